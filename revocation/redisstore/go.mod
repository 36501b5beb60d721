module github.com/logtoguard/logtoguard/revocation/redisstore

go 1.25.0
