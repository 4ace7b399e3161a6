// Package yarn holds flink-go's clients for YARN's three protocols, on top of the Hadoop IPC layer
// in yarn/ipc:
//
//   - ClientRM (ApplicationClientProtocol, the RM's client port 8032, SIMPLE or Kerberos):
//     submit, inspect, list and kill applications, list nodes and queues, get delegation tokens.
//   - AMRMClient (ApplicationMasterProtocol, the RM's scheduler port 8030, AMRMToken only):
//     register, allocate (heartbeat) and finish an ApplicationMaster attempt.
//   - NMClient (ContainerManagementProtocol, each NodeManager, NMToken only): start, stop and
//     query containers.
//
// Configuration comes from Hadoop XML (LoadConfig reads yarn-site.xml and core-site.xml from
// YARN_CONF_DIR / HADOOP_CONF_DIR). A client submits an application like this:
//
//	cfg, err := yarn.LoadConfig()
//	rm, err := yarn.NewClientRM(ctx, cfg)
//	app, err := rm.GetNewApplication(ctx)
//	err = rm.SubmitApplication(ctx, yarn.Submission{
//		ID: app.ID, Name: "job", Type: "flink-go",
//		AMResource: yarn.Resource{MemoryMB: 1024, VCores: 1},
//		AM: yarn.ContainerLaunchContext{
//			LocalResources: map[string]yarn.LocalResource{"job": {URL: uri, Size: size, Timestamp: mtimeMs}},
//			Commands:       []string{"./job 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"},
//		},
//	})
//	report, err := rm.WaitForState(ctx, app.ID, time.Second, func(r yarn.ApplicationReport) bool {
//		return r.State == yarn.StateRunning
//	})
//
// An ApplicationMaster reads its AMRMToken from $HADOOP_TOKEN_FILE_LOCATION (yarn/security), builds
// an AMRMClient for the scheduler address the submitter passed in its environment, and drives the
// container bookkeeping of yarn/amkit. See docs/yarn-clients.md.
package yarn
