// Package yarntest holds the end-to-end tests of flink-go's YARN clients against the real Hadoop
// mini-cluster (testing/hadoop/testbed) and the small Go ApplicationMaster they submit
// (yarntest/testam). The package has no non-test API.
package yarntest
