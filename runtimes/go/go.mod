module reestr.local/runtime/go

go 1.22
