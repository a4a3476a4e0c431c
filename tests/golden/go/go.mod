module reestr.local/langpack/bo

go 1.22
