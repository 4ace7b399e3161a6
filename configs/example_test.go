package configs_test

import (
	"fmt"
	"os"

	"github.com/flink-go/flink-go/configs"
)

func ExampleLoad() {
	conf, err := configs.Load(configs.LoadOptions{
		LookupEnv: func(string) (string, bool) { return "", false }, // no FLINK_CONF_DIR here
		Dynamic:   []string{"parallelism.default=4", "execution.checkpointing.interval=30 s"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(configs.Get(conf, configs.Parallelism))
	fmt.Println(configs.Get(conf, configs.CheckpointInterval))
	fmt.Println(configs.Get(conf, configs.RestPort)) // default
	// Output:
	// 4
	// 30s
	// 8081
}

func ExampleConfiguration_Set() {
	conf := configs.New()
	err := conf.Set("paralelism.default", "2", configs.FileOrigin("conf/config.yaml", 7))
	fmt.Println(err)
	err = conf.Set("taskmanager.memory.process.size", "2 gb", configs.DynamicOrigin)
	fmt.Println(err, configs.Get(conf, configs.TaskManagerMemory).MebiBytes())
	// Output:
	// conf/config.yaml:7: key "paralelism.default": unknown configuration key (did you mean "parallelism.default"?)
	// <nil> 2048
}

func ExampleRender() {
	conf := configs.New()
	_ = conf.Set("parallelism.default", "4", configs.FileOrigin("conf/config.yaml", 12))
	_ = conf.Set("yarn.application.queue", "streaming", configs.DynamicOrigin)
	_ = configs.Render(os.Stdout, conf, configs.RenderOptions{})
	// Output:
	// KEY                     VALUE      ORIGIN
	// parallelism.default     4          conf/config.yaml:12
	// yarn.application.queue  streaming  -D
}
