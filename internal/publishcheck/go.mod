// logtoguard:unpublished the publish check itself, a development tool
module github.com/logtoguard/logtoguard/internal/publishcheck

go 1.25.0

require golang.org/x/mod v0.37.0
