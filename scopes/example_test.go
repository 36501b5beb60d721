package scopes_test

import (
	"fmt"

	"github.com/logtoguard/logtoguard/scopes"
)

func ExampleParse() {
	fmt.Printf("%q\n", scopes.Parse("read:products write:products"))
	fmt.Printf("%q\n", scopes.Parse(""))
	// Output:
	// ["read:products" "write:products"]
	// []
}

func ExampleAll() {
	granted := scopes.Parse("read:products")
	req := scopes.All("read:products", "write:products")
	fmt.Println(req.Satisfied(granted))
	fmt.Println(req.Missing(granted))
	// Output:
	// false
	// [write:products]
}

func ExampleAny() {
	granted := scopes.Parse("write:products")
	req := scopes.Any("read:products", "write:products")
	fmt.Println(req.Satisfied(granted))
	fmt.Println(req)
	// Output:
	// true
	// read:products write:products
}
