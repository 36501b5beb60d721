module github.com/logtoguard/logtoguard/cmd/logtoguard

go 1.25.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/logtoguard/logtoguard v0.1.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/MicahParks/keyfunc/v3 v3.9.1 // indirect
	golang.org/x/time v0.15.0 // indirect
)
