module reestr.local/patterndiff

go 1.21
