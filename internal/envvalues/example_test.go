package envvalues_test

import (
	"context"
	"fmt"

	"github.com/wfrun/wfrun/internal/envvalues"
)

func ExampleParse() {
	src, err := envvalues.Parse("env:CONDUCTOR_ENV_", []string{"CONDUCTOR_ENV_REGION=us-east-1", "PATH=/usr/bin"})
	if err != nil {
		panic(err)
	}
	region, _, _ := src.Value(context.Background(), "REGION")
	_, found, _ := src.Value(context.Background(), "PATH")
	fmt.Println(string(region), found)
	// Output: "us-east-1" false
}
