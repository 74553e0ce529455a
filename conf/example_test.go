package conf_test

import (
	"fmt"
	"strings"

	"github.com/kinesis-agg/kinesis_agg/conf"
)

func ExampleParse() {
	// In the plugin, get is output.FLBPluginConfigKey bound to the instance's context.
	props := map[string]string{
		"Stream_ARN":    "arn:aws:kinesis:eu-west-1:123456789012:stream/orders",
		"Partition_Key": "$kubernetes['labels']['app.kubernetes.io/name']",
		"Compression":   "GZIP",
		"Retry_Budget":  "45",
	}
	get := func(key string) string {
		for k, v := range props {
			if strings.EqualFold(k, key) { // Fluent Bit lookups are case-insensitive
				return v
			}
		}
		return ""
	}

	c, err := conf.Parse(get)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Region, c.StreamName, c.Compression, c.RetryBudget)
	fmt.Printf("%q\n", c.PartitionKey)
	for _, s := range c.Effective()[:3] {
		fmt.Printf("%s=%s\n", s.Key, s.Value)
	}

	_, err = conf.Parse(func(key string) string {
		if key == "compression" {
			return "lz4"
		}
		return get(key)
	})
	fmt.Println(err)
	// Output:
	// eu-west-1 orders gzip 45s
	// ["kubernetes" "labels" "app.kubernetes.io/name"]
	// region=eu-west-1
	// stream=orders
	// stream_arn=arn:aws:kinesis:eu-west-1:123456789012:stream/orders
	// conf: compression "lz4": want one of none, gzip, zlib, zstd
}
