module github.com/logtoguard/logtoguard/adapters/connectguard

go 1.25.0

require (
	connectrpc.com/connect v1.20.0
	github.com/logtoguard/logtoguard v0.1.0
	google.golang.org/protobuf v1.36.11
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/MicahParks/keyfunc/v3 v3.9.1 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/time v0.15.0 // indirect
)
