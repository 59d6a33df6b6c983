module cairn/crosscheck

go 1.19

require golang.org/x/mod v0.7.0

// Debian's golang-golang-x-mod-dev ships the module source here; with this
// replace the build needs no network and no go.sum entry (see README.md).
replace golang.org/x/mod => /usr/share/gocode/src/golang.org/x/mod
