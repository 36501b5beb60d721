module github.com/logtoguard/logtoguard/examples

go 1.25.0

require github.com/logtoguard/logtoguard v0.0.0

replace github.com/logtoguard/logtoguard => ../
