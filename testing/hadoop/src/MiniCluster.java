// flink-go Hadoop test bed: one JVM running MiniDFSCluster (1 NameNode, 1 DataNode) and
// MiniYARNCluster (1 ResourceManager, 2 NodeManagers) on the loopback interface.
//
// Usage: java ... MiniCluster <work-dir> [--kerberos|--ha]
//   --ha: an HDFS HA nameservice (2 NameNodes, 1 DataNode), no YARN (see runHA).
//   --kerberos: a MiniKdc, a Kerberized HDFS and a secure MiniYARNCluster (see runKerberos; no
//   YARN with FLINK_GO_MC_KERBEROS_YARN=0); conf dir as below plus kerberos.* entries in
//   cluster.properties.
//   Writes <work-dir>/conf/{core-site,hdfs-site,yarn-site}.xml and <work-dir>/conf/cluster.properties,
//   prints "READY <conf-dir>" once HDFS answers and the RM reports 2 RUNNING NodeManagers, and
//   writes <work-dir>/ready. Stops cleanly on SIGTERM/SIGINT or when <work-dir>/stop appears.
//
// Environment knobs (all optional):
//   FLINK_GO_MC_NODEMANAGERS   number of NodeManagers (default 2)
//   FLINK_GO_MC_NM_MEMORY_MB   memory per NodeManager (default 4096)
//   FLINK_GO_MC_NM_VCORES      vcores per NodeManager (default 8)
//   FLINK_GO_MC_NN_PORT        NameNode RPC port (default 0 = ephemeral)
//   FLINK_GO_MC_READY_TIMEOUT  seconds to wait for the NodeManagers (default 120)
//   FLINK_GO_MC_NM_EXPIRY_MS   yarn.nm.liveness-monitor.expiry-interval-ms: how long the RM waits
//                              for a silent NodeManager before it declares it LOST and reports its
//                              containers completed (default 30000)
//   FLINK_GO_MC_OWNER_PID      when set, the launcher stops itself once that process is gone (a
//                              test's private cluster must not outlive a killed test process)
//   FLINK_GO_MC_KERBEROS_YARN  0 leaves YARN out of the Kerberos mode (default 1)
//   FLINK_GO_MC_RPC_PROTECTION hadoop.rpc.protection of the Kerberos mode (default privacy: the
//                              strongest, so SASL wrapping is always exercised)
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.hdfs.MiniDFSNNTopology;
import org.apache.hadoop.minikdc.MiniKdc;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.yarn.api.records.NodeState;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.apache.hadoop.yarn.server.nodemanager.NodeManager;
import org.apache.hadoop.yarn.server.resourcemanager.ResourceManager;
import org.apache.hadoop.yarn.server.resourcemanager.rmnode.RMNode;

public final class MiniCluster {
  private static final AtomicBoolean stopRequested = new AtomicBoolean();
  private static final CountDownLatch stopped = new CountDownLatch(1);
  private static long ownerPid;
  private static boolean ownerGone;

  public static void main(String[] args) throws Exception {
    if (args.length < 1 || args.length > 2
        || (args.length == 2 && !args[1].equals("--kerberos") && !args[1].equals("--ha"))) {
      System.err.println("usage: MiniCluster <work-dir> [--kerberos|--ha]");
      System.exit(2);
    }
    boolean kerberos = args.length == 2 && args[1].equals("--kerberos");
    boolean ha = args.length == 2 && args[1].equals("--ha");
    long t0 = System.nanoTime();
    File work = new File(args[0]).getAbsoluteFile();
    File confDir = new File(work, "conf");
    File stopFile = new File(work, "stop");
    File readyFile = new File(work, "ready");
    readyFile.delete();
    stopFile.delete();
    confDir.mkdirs();
    Files.write(new File(work, "pid").toPath(),
        (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8));

    int numNMs = envInt("FLINK_GO_MC_NODEMANAGERS", 2);
    int nmMemory = envInt("FLINK_GO_MC_NM_MEMORY_MB", 4096);
    int nmVcores = envInt("FLINK_GO_MC_NM_VCORES", 8);
    int nnPort = envInt("FLINK_GO_MC_NN_PORT", 0);
    int readyTimeout = envInt("FLINK_GO_MC_READY_TIMEOUT", 120);
    ownerPid = envInt("FLINK_GO_MC_OWNER_PID", 0);
    if (ownerPid > 0) {
      log("stopping when process " + ownerPid + " ends");
    }

    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stopRequested.set(true);
      try {
        stopped.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException ignored) {
        Thread.currentThread().interrupt();
      }
    }, "flink-go-minicluster-shutdown"));

    if (kerberos) {
      runKerberos(work, confDir, readyFile, stopFile, nnPort, t0);
      return;
    }
    if (ha) {
      runHA(work, confDir, readyFile, stopFile, t0);
      return;
    }

    Configuration conf = new YarnConfiguration();
    // Loopback only, simple auth.
    conf.set("hadoop.security.authentication", "simple");
    // Nothing in the shared /tmp/hadoop-<user>: several clusters (a test's private one beside the
    // shared one) must not meet there.
    conf.set("hadoop.tmp.dir", new File(work, "tmp").getPath());
    conf.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    conf.set("dfs.namenode.http-bind-host", "127.0.0.1");
    conf.setInt("dfs.replication", 1);
    conf.setBoolean("dfs.permissions.enabled", true);
    conf.setBoolean("dfs.namenode.acls.enabled", true);
    // Issue HDFS delegation tokens although security is off, so tests can exercise TOKEN
    // (DIGEST-MD5) authentication to the NameNode as YARN containers in secure clusters do.
    conf.setBoolean("dfs.namenode.delegation.token.always-use", true);
    // Let any local user impersonate (tests submit as other users than the JVM's).
    String me = System.getProperty("user.name");
    conf.set("hadoop.proxyuser." + me + ".hosts", "*");
    conf.set("hadoop.proxyuser." + me + ".groups", "*");

    // HDFS first: YARN's log aggregation and staging use it as the default FS.
    File dfsBase = new File(work, "dfs");
    MiniDFSCluster dfs = new MiniDFSCluster.Builder(conf, dfsBase)
        .numDataNodes(1)
        .nameNodePort(nnPort)
        .format(true)
        .build();
    dfs.waitActive();
    String defaultFS = dfs.getURI().toString();
    conf.set("fs.defaultFS", defaultFS);
    FileSystem hdfs = dfs.getFileSystem();
    mkdir(hdfs, "/tmp", (short) 01777);
    mkdir(hdfs, "/user", (short) 0777);
    mkdir(hdfs, "/tmp/logs", (short) 01777);
    mkdir(hdfs, "/tmp/hadoop-yarn/staging", (short) 01777);
    log("HDFS up at " + defaultFS + " after " + secs(t0) + "s");

    // YARN.
    configureYarn(conf, nmMemory, nmVcores);

    // NodeManager web apps off: in one JVM the last Guice web app started takes over every
    // GuiceFilter, and the RM's REST API (/ws/v1/cluster/...) would answer 404.
    MiniYARNCluster yarn = new MiniYARNCluster("flink-go-testbed", numNMs, 1, 1, false);
    yarn.init(conf);
    yarn.start();
    Configuration yconf = yarn.getConfig();
    log("YARN RM up at " + yconf.get(YarnConfiguration.RM_ADDRESS) + " after " + secs(t0) + "s");

    if (!waitForNodes(yarn, numNMs, readyTimeout, stopFile)) {
      shutdown(yarn, dfs);
      System.exit(1);
    }

    if (!stopWanted(stopFile)) {
      writeConfig(confDir, conf, yconf, dfs, yarn, numNMs, work);
      Files.write(readyFile.toPath(), (confDir.getPath() + "\n").getBytes(StandardCharsets.UTF_8));
      System.out.println("READY " + confDir.getPath() + " in " + secs(t0) + "s");
      System.out.flush();
    }

    // <work>/stop-nm-<i> stops NodeManager i (its containers are killed and it unregisters from
    // the RM, as when a node goes away); the launcher then writes <work>/nm-<i>-stopped and
    // deletes the trigger.
    for (int i = 0; i < numNMs; i++) {
      new File(work, "stop-nm-" + i).delete();
      new File(work, "nm-" + i + "-stopped").delete();
    }
    while (!stopWanted(stopFile)) {
      for (int i = 0; i < numNMs; i++) {
        File trigger = new File(work, "stop-nm-" + i);
        if (!trigger.exists()) {
          continue;
        }
        String result = "stopped";
        try {
          log("stopping NodeManager " + i + " (" + yarn.getNodeManager(i).getNMContext().getNodeId()
              + ") on request");
          yarn.getNodeManager(i).stop();
          log("NodeManager " + i + " stopped");
        } catch (Exception e) {
          result = "error: " + e;
          log("stopping NodeManager " + i + " failed: " + e);
        }
        Files.write(new File(work, "nm-" + i + "-stopped").toPath(),
            (result + "\n").getBytes(StandardCharsets.UTF_8));
        trigger.delete();
      }
      Thread.sleep(200);
    }
    log("stopping (" + stopReason(stopFile) + ")");
    shutdown(yarn, dfs);
    readyFile.delete();
    stopFile.delete();
    log("stopped");
    stopped.countDown();
    if (!stopRequested.get()) {
      System.exit(0);
    }
  }

  // Kerberos mode: a MiniKdc, a Kerberized HDFS and (unless FLINK_GO_MC_KERBEROS_YARN=0) a secure
  // MiniYARNCluster. Principals: hdfs/localhost and
  // HTTP/localhost for the daemons, alice for clients, each with a keytab under <work>/kdc.
  // DataNode traffic uses SASL with block access tokens (dfs.data.transfer.protection=
  // authentication) instead of privileged ports (ignore.secure.ports.for.testing).
  private static void runKerberos(File work, File confDir, File readyFile, File stopFile,
      int nnPort, long t0) throws Exception {
    File kdir = new File(work, "kdc");
    kdir.mkdirs();
    Properties kdcConf = MiniKdc.createConf();
    kdcConf.setProperty(MiniKdc.KDC_BIND_ADDRESS, "localhost");
    MiniKdc kdc = new MiniKdc(kdcConf, kdir);
    kdc.start(); // also sets java.security.krb5.conf to its krb5.conf
    String realm = kdc.getRealm();
    File svcKeytab = new File(kdir, "hdfs.keytab");
    kdc.createPrincipal(svcKeytab, "hdfs/localhost", "HTTP/localhost");
    File clientKeytab = new File(kdir, "alice.keytab");
    kdc.createPrincipal(clientKeytab, "alice");
    log("KDC up, realm " + realm + " after " + secs(t0) + "s");

    String nnPrincipal = "hdfs/localhost@" + realm;
    String rpcProtection = System.getenv().getOrDefault("FLINK_GO_MC_RPC_PROTECTION", "privacy");
    boolean withYarn = envInt("FLINK_GO_MC_KERBEROS_YARN", 1) != 0;
    Configuration conf = new Configuration();
    conf.set("hadoop.security.authentication", "kerberos");
    conf.set("hadoop.rpc.protection", rpcProtection);
    conf.set("dfs.namenode.kerberos.principal", nnPrincipal);
    conf.set("dfs.namenode.keytab.file", svcKeytab.getPath());
    conf.set("dfs.datanode.kerberos.principal", nnPrincipal);
    conf.set("dfs.datanode.keytab.file", svcKeytab.getPath());
    conf.set("dfs.web.authentication.kerberos.principal", "HTTP/localhost@" + realm);
    conf.set("dfs.web.authentication.kerberos.keytab", svcKeytab.getPath());
    // WebHDFS with SPNEGO (how submitters fetch delegation tokens over HTTP).
    conf.set("hadoop.http.authentication.type", "kerberos");
    conf.set("hadoop.http.authentication.kerberos.principal", "HTTP/localhost@" + realm);
    conf.set("hadoop.http.authentication.kerberos.keytab", svcKeytab.getPath());
    conf.setBoolean("hadoop.http.authentication.simple.anonymous.allowed", false);
    conf.setBoolean("dfs.block.access.token.enable", true);
    conf.set("dfs.data.transfer.protection", "authentication");
    conf.setBoolean("ignore.secure.ports.for.testing", true);
    conf.set("dfs.http.policy", "HTTP_ONLY");
    conf.setInt("dfs.replication", 1);
    conf.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    conf.set("hadoop.proxyuser.hdfs.hosts", "*");
    conf.set("hadoop.proxyuser.hdfs.groups", "*");
    UserGroupInformation.setConfiguration(conf);
    UserGroupInformation.loginUserFromKeytab(nnPrincipal, svcKeytab.getPath());

    MiniDFSCluster dfs = new MiniDFSCluster.Builder(conf, new File(work, "dfs"))
        .numDataNodes(1)
        .nameNodePort(nnPort)
        .format(true)
        .build();
    dfs.waitActive();
    int port = dfs.getNameNode().getNameNodeAddress().getPort();
    // The SPN is hdfs/localhost: clients must name the NameNode "localhost".
    String defaultFS = "hdfs://localhost:" + port;
    FileSystem hdfs = dfs.getFileSystem();
    mkdir(hdfs, "/tmp", (short) 01777);
    mkdir(hdfs, "/user", (short) 0777);
    log("Kerberized HDFS up at " + defaultFS + " after " + secs(t0) + "s");

    Map<String, String> core = new LinkedHashMap<>();
    core.put("fs.defaultFS", defaultFS);
    core.put("hadoop.security.authentication", "kerberos");
    core.put("hadoop.rpc.protection", rpcProtection);
    writeSite(new File(confDir, "core-site.xml"), core);
    Map<String, String> hdfsSite = new LinkedHashMap<>();
    hdfsSite.put("dfs.namenode.rpc-address", "localhost:" + port);
    hdfsSite.put("dfs.namenode.http-address",
        "localhost:" + dfs.getNameNode().getHttpAddress().getPort());
    hdfsSite.put("dfs.namenode.kerberos.principal", "hdfs/_HOST@" + realm);
    hdfsSite.put("dfs.block.access.token.enable", "true");
    hdfsSite.put("dfs.data.transfer.protection", "authentication");
    hdfsSite.put("dfs.replication", "1");
    writeSite(new File(confDir, "hdfs-site.xml"), hdfsSite);
    // The same client files on this JVM's classpath (minicluster.sh puts <work>/jvm-conf there):
    // the NodeManagers' ContainerLocalizer builds its configuration from the classpath and must
    // speak this cluster's RPC protection and DataNode SASL when it downloads resources.
    File jvmConf = new File(work, "jvm-conf");
    jvmConf.mkdirs();
    writeSite(new File(jvmConf, "core-site.xml"), core);
    writeSite(new File(jvmConf, "hdfs-site.xml"), hdfsSite);

    // A secure MiniYARNCluster beside it (FLINK_GO_MC_KERBEROS_YARN=0 leaves it out). Every
    // daemon of this JVM shares one login (UserGroupInformation's login user is process-wide,
    // and Hadoop's SASL server takes its service name from it), so the RM and NMs use the
    // NameNode's principal hdfs/localhost too, as single-JVM secure test setups do. Containers
    // run as this JVM's OS user (DefaultContainerExecutor); service-level authorization is off.
    int numNMs = envInt("FLINK_GO_MC_NODEMANAGERS", 2);
    MiniYARNCluster yarn = null;
    Configuration yconf = null;
    if (withYarn) {
      Configuration yc = new YarnConfiguration(conf);
      yc.set("fs.defaultFS", defaultFS);
      yc.set("hadoop.tmp.dir", new File(work, "tmp").getPath());
      yc.set(YarnConfiguration.RM_PRINCIPAL, nnPrincipal);
      yc.set(YarnConfiguration.RM_KEYTAB, svcKeytab.getPath());
      yc.set(YarnConfiguration.NM_PRINCIPAL, nnPrincipal);
      yc.set(YarnConfiguration.NM_KEYTAB, svcKeytab.getPath());
      yc.set("yarn.resourcemanager.webapp.spnego-principal", "HTTP/localhost@" + realm);
      yc.set("yarn.resourcemanager.webapp.spnego-keytab-file", svcKeytab.getPath());
      // The RM's REST API stays readable without SPNEGO (the Go test bed polls its nodes).
      yc.set("hadoop.http.authentication.type", "simple");
      yc.setBoolean("hadoop.http.authentication.simple.anonymous.allowed", true);
      yc.setBoolean("yarn.resourcemanager.webapp.delegation-token-auth-filter.enabled", false);
      yc.setBoolean("hadoop.security.authorization", false);
      configureYarn(yc, envInt("FLINK_GO_MC_NM_MEMORY_MB", 4096), envInt("FLINK_GO_MC_NM_VCORES", 8));
      // Log aggregation would upload as the application's user with its tokens: left out here.
      yc.setBoolean(YarnConfiguration.LOG_AGGREGATION_ENABLED, false);
      yarn = new MiniYARNCluster("flink-go-testbed-kerberos", numNMs, 1, 1, false);
      yarn.init(yc);
      yarn.start();
      yconf = yarn.getConfig();
      log("secure YARN RM up at " + yconf.get(YarnConfiguration.RM_ADDRESS) + " after " + secs(t0) + "s");
      if (!waitForNodes(yarn, numNMs, envInt("FLINK_GO_MC_READY_TIMEOUT", 120), stopFile)) {
        shutdown(yarn, dfs);
        kdc.stop();
        System.exit(1);
      }
    }

    Map<String, String> props = new LinkedHashMap<>();
    props.put("mode", "kerberos");
    if (yarn != null) {
      Map<String, String> yarnSite = yarnSite(yconf);
      // Written without _HOST: the RM's address carries the machine's host name, its principal
      // is hdfs/localhost.
      yarnSite.put(YarnConfiguration.RM_PRINCIPAL, nnPrincipal);
      yarnSite.put(YarnConfiguration.NM_PRINCIPAL, nnPrincipal);
      writeSite(new File(confDir, "yarn-site.xml"), yarnSite);
      yarnProps(props, yconf, yarn, numNMs);
      props.put("kerberos.rm.principal", nnPrincipal);
    }
    props.put("hdfs.uri", defaultFS);
    props.put("hdfs.namenode.address", "localhost:" + port);
    props.put("kerberos.realm", realm);
    props.put("kerberos.krb5conf", kdc.getKrb5conf().getAbsolutePath());
    props.put("kerberos.client.principal", "alice@" + realm);
    props.put("kerberos.client.keytab", clientKeytab.getAbsolutePath());
    props.put("kerberos.namenode.principal", nnPrincipal);
    props.put("work.dir", work.getPath());
    props.put("pid", Long.toString(ProcessHandle.current().pid()));
    StringBuilder sb = new StringBuilder("# flink-go Hadoop test bed, Kerberos mode (generated)\n");
    for (Map.Entry<String, String> e : props.entrySet()) {
      sb.append(e.getKey()).append('=').append(e.getValue()).append('\n');
    }
    writeAtomically(new File(confDir, "cluster.properties"), sb.toString());
    Files.write(readyFile.toPath(), (confDir.getPath() + "\n").getBytes(StandardCharsets.UTF_8));
    System.out.println("READY " + confDir.getPath() + " in " + secs(t0) + "s");
    System.out.flush();

    while (!stopWanted(stopFile)) {
      Thread.sleep(500);
    }
    log("stopping (" + stopReason(stopFile) + ")");
    if (yarn != null) {
      shutdown(yarn, dfs);
    } else {
      try {
        dfs.shutdown();
      } catch (Throwable t) {
        System.err.println("WARN stopping HDFS: " + t);
      }
    }
    kdc.stop();
    readyFile.delete();
    stopFile.delete();
    log("stopped");
    stopped.countDown();
    if (!stopRequested.get()) {
      System.exit(0);
    }
  }

  // HA mode: an HDFS nameservice with two NameNodes (nn1 active, nn2 standby) and one DataNode,
  // no YARN. Creating <work>/failover makes the launcher swap the active NameNode; it deletes the
  // file when done and records the active one in <work>/active.
  private static void runHA(File work, File confDir, File readyFile, File stopFile, long t0)
      throws Exception {
    Configuration conf = new Configuration();
    conf.set("hadoop.security.authentication", "simple");
    conf.setInt("dfs.replication", 1);
    conf.setInt("dfs.ha.tail-edits.period", 1);
    conf.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    String me = System.getProperty("user.name");
    conf.set("hadoop.proxyuser." + me + ".hosts", "*");
    conf.set("hadoop.proxyuser." + me + ".groups", "*");
    MiniDFSNNTopology topo = MiniDFSNNTopology.simpleHATopology(2);
    MiniDFSCluster dfs = new MiniDFSCluster.Builder(conf, new File(work, "dfs"))
        .nnTopology(topo)
        .numDataNodes(1)
        .format(true)
        .build();
    dfs.waitActive();
    dfs.transitionToActive(0);
    int active = 0;
    FileSystem hdfs = dfs.getFileSystem(0);
    mkdir(hdfs, "/tmp", (short) 01777);
    mkdir(hdfs, "/user", (short) 0777);
    String ns = topo.getNameservices().get(0).getId();
    String[] ids = {"nn1", "nn2"};
    Map<String, String> core = new LinkedHashMap<>();
    core.put("fs.defaultFS", "hdfs://" + ns);
    core.put("hadoop.security.authentication", "simple");
    writeSite(new File(confDir, "core-site.xml"), core);
    Map<String, String> hdfsSite = new LinkedHashMap<>();
    hdfsSite.put("dfs.nameservices", ns);
    hdfsSite.put("dfs.ha.namenodes." + ns, String.join(",", ids));
    Map<String, String> props = new LinkedHashMap<>();
    props.put("mode", "ha");
    props.put("hdfs.uri", "hdfs://" + ns);
    props.put("hdfs.nameservice", ns);
    for (int i = 0; i < 2; i++) {
      String addr = "127.0.0.1:" + dfs.getNameNode(i).getNameNodeAddress().getPort();
      hdfsSite.put("dfs.namenode.rpc-address." + ns + "." + ids[i], addr);
      hdfsSite.put("dfs.namenode.http-address." + ns + "." + ids[i],
          "127.0.0.1:" + dfs.getNameNode(i).getHttpAddress().getPort());
      props.put("hdfs.namenode." + ids[i] + ".address", addr);
    }
    hdfsSite.put("dfs.client.failover.proxy.provider." + ns,
        "org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider");
    hdfsSite.put("dfs.replication", "1");
    writeSite(new File(confDir, "hdfs-site.xml"), hdfsSite);
    props.put("work.dir", work.getPath());
    props.put("pid", Long.toString(ProcessHandle.current().pid()));
    StringBuilder sb = new StringBuilder("# flink-go Hadoop test bed, HA mode (generated)\n");
    for (Map.Entry<String, String> e : props.entrySet()) {
      sb.append(e.getKey()).append('=').append(e.getValue()).append('\n');
    }
    writeAtomically(new File(confDir, "cluster.properties"), sb.toString());
    File activeFile = new File(work, "active");
    File failoverFile = new File(work, "failover");
    failoverFile.delete();
    writeAtomically(activeFile, ids[active] + "\n");
    log("HA HDFS up, nameservice " + ns + " after " + secs(t0) + "s");
    Files.write(readyFile.toPath(), (confDir.getPath() + "\n").getBytes(StandardCharsets.UTF_8));
    System.out.println("READY " + confDir.getPath() + " in " + secs(t0) + "s");
    System.out.flush();

    while (!stopWanted(stopFile)) {
      if (failoverFile.exists()) {
        int next = 1 - active;
        log("failover: " + ids[active] + " -> " + ids[next]);
        dfs.transitionToStandby(active);
        dfs.transitionToActive(next);
        active = next;
        writeAtomically(activeFile, ids[active] + "\n");
        failoverFile.delete();
      }
      Thread.sleep(200);
    }
    log("stopping (" + stopReason(stopFile) + ")");
    try {
      dfs.shutdown();
    } catch (Throwable t) {
      System.err.println("WARN stopping HDFS: " + t);
    }
    readyFile.delete();
    stopFile.delete();
    log("stopped");
    stopped.countDown();
    if (!stopRequested.get()) {
      System.exit(0);
    }
  }

  // configureYarn sets the MiniYARNCluster settings both modes share.
  private static void configureYarn(Configuration c, int nmMemory, int nmVcores) {
    c.set(YarnConfiguration.NM_CONTAINER_EXECUTOR,
        "org.apache.hadoop.yarn.server.nodemanager.DefaultContainerExecutor");
    c.setBoolean(YarnConfiguration.NM_PMEM_CHECK_ENABLED, false);
    // A NodeManager that stops heartbeating (stop-nm-<i>) is LOST after 30 s instead of 10 min,
    // so the RM reports its containers completed to their AMs as on a real cluster.
    int nmExpiry = envInt("FLINK_GO_MC_NM_EXPIRY_MS", 30000);
    c.setLong(YarnConfiguration.RM_NM_EXPIRY_INTERVAL_MS, nmExpiry);
    // The liveness monitor looks every second (its default) or more often for short expiries.
    c.setLong("yarn.resourcemanager.nm.liveness-monitor.interval-ms",
        Math.max(200, Math.min(1000, nmExpiry / 5)));
    c.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
    c.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 128);
    c.setInt(YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_MB, nmMemory);
    c.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_VCORES, 1);
    c.setInt(YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_VCORES, nmVcores);
    c.setInt("yarn.minicluster.yarn.nodemanager.resource.memory-mb", nmMemory);
    c.setInt(YarnConfiguration.NM_PMEM_MB, nmMemory);
    c.setInt(YarnConfiguration.NM_VCORES, nmVcores);
    c.setBoolean(YarnConfiguration.LOG_AGGREGATION_ENABLED, true);
    c.set(YarnConfiguration.NM_REMOTE_APP_LOG_DIR, "/tmp/logs");
    c.setInt(YarnConfiguration.LOG_AGGREGATION_RETAIN_SECONDS, 86400);
    c.setLong(YarnConfiguration.NM_LOG_RETAIN_SECONDS, 3600);
    // Keep finished containers' work dirs and logs a while for debugging.
    c.setInt(YarnConfiguration.DEBUG_NM_DELETE_DELAY_SEC, 600);
    c.setInt(YarnConfiguration.RM_AM_MAX_ATTEMPTS, 4);
    // The single-node disk checker would mark nodes unhealthy on a full-ish disk.
    c.setFloat(YarnConfiguration.NM_MAX_PER_DISK_UTILIZATION_PERCENTAGE, 99.5f);
    c.setBoolean(YarnConfiguration.TIMELINE_SERVICE_ENABLED, false);
    c.setBoolean("yarn.minicluster.fixed.ports", false);
  }

  // waitForNodes waits until the RM reports n RUNNING NodeManagers; false on timeout (logged).
  // A stop request ends the wait early with true.
  private static boolean waitForNodes(MiniYARNCluster yarn, int n, int timeoutSecs, File stopFile)
      throws InterruptedException {
    ResourceManager rm = yarn.getResourceManager();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSecs);
    while (!stopWanted(stopFile)) {
      int running = 0;
      for (RMNode node : rm.getRMContext().getRMNodes().values()) {
        if (node.getState() == NodeState.RUNNING) {
          running++;
        }
      }
      if (running >= n) {
        return true;
      }
      if (System.nanoTime() > deadline) {
        System.err.println("ERROR only " + running + " of " + n
            + " NodeManagers RUNNING after " + timeoutSecs + "s");
        return false;
      }
      Thread.sleep(200);
    }
    return true;
  }

  // yarnSite is the yarn-site.xml clients need.
  private static Map<String, String> yarnSite(Configuration yconf) {
    String[] yarnKeys = {
        YarnConfiguration.RM_ADDRESS,
        YarnConfiguration.RM_SCHEDULER_ADDRESS,
        YarnConfiguration.RM_RESOURCE_TRACKER_ADDRESS,
        YarnConfiguration.RM_ADMIN_ADDRESS,
        YarnConfiguration.RM_WEBAPP_ADDRESS,
        YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB,
        YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_MB,
        YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_VCORES,
        YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_VCORES,
        YarnConfiguration.RM_AM_MAX_ATTEMPTS,
        YarnConfiguration.LOG_AGGREGATION_ENABLED,
        YarnConfiguration.NM_REMOTE_APP_LOG_DIR,
        YarnConfiguration.NM_PMEM_CHECK_ENABLED,
        YarnConfiguration.NM_VMEM_CHECK_ENABLED,
        YarnConfiguration.NM_CONTAINER_EXECUTOR,
        YarnConfiguration.RM_SCHEDULER,
    };
    Map<String, String> yarnSite = new LinkedHashMap<>();
    for (String k : yarnKeys) {
      String v = yconf.get(k);
      if (v != null) {
        yarnSite.put(k, v);
      }
    }
    yarnSite.put(YarnConfiguration.RM_HOSTNAME, MiniYARNCluster.getHostname());
    yarnSite.put(YarnConfiguration.YARN_APPLICATION_CLASSPATH,
        String.join(",", YarnConfiguration.DEFAULT_YARN_APPLICATION_CLASSPATH));
    return yarnSite;
  }

  // yarnProps adds the YARN part of cluster.properties.
  private static void yarnProps(Map<String, String> props, Configuration yconf,
      MiniYARNCluster yarn, int numNMs) {
    props.put("yarn.rm.address", yconf.get(YarnConfiguration.RM_ADDRESS));
    props.put("yarn.rm.scheduler.address", yconf.get(YarnConfiguration.RM_SCHEDULER_ADDRESS));
    props.put("yarn.rm.resource-tracker.address",
        yconf.get(YarnConfiguration.RM_RESOURCE_TRACKER_ADDRESS));
    props.put("yarn.rm.admin.address", yconf.get(YarnConfiguration.RM_ADMIN_ADDRESS));
    props.put("yarn.rm.webapp.address", yconf.get(YarnConfiguration.RM_WEBAPP_ADDRESS));
    props.put("yarn.nodemanagers", Integer.toString(numNMs));
    List<String> nmAddrs = new ArrayList<>();
    for (int i = 0; i < numNMs; i++) {
      NodeManager nm = yarn.getNodeManager(i);
      Configuration nc = nm.getConfig();
      String nodeId = nm.getNMContext().getNodeId().toString();
      nmAddrs.add(nodeId);
      props.put("yarn.nm." + i + ".address", nodeId);
      props.put("yarn.nm." + i + ".local-dirs", nc.get(YarnConfiguration.NM_LOCAL_DIRS));
      props.put("yarn.nm." + i + ".log-dirs", nc.get(YarnConfiguration.NM_LOG_DIRS));
    }
    props.put("yarn.nm.addresses", String.join(",", nmAddrs));
    props.put("hostname", MiniYARNCluster.getHostname());
  }

  // stopWanted reports whether the launcher should stop: a signal, the stop file, or the owner
  // process (FLINK_GO_MC_OWNER_PID) gone.
  private static boolean stopWanted(File stopFile) {
    if (stopRequested.get() || stopFile.exists()) {
      return true;
    }
    if (ownerPid > 0 && !ownerGone) {
      ownerGone = !ProcessHandle.of(ownerPid).map(ProcessHandle::isAlive).orElse(false);
    }
    return ownerGone;
  }

  private static String stopReason(File stopFile) {
    if (stopFile.exists()) {
      return "stop file";
    }
    if (ownerGone) {
      return "owner process " + ownerPid + " ended";
    }
    return "signal";
  }

  private static void shutdown(MiniYARNCluster yarn, MiniDFSCluster dfs) {
    try {
      yarn.stop();
    } catch (Throwable t) {
      System.err.println("WARN stopping YARN: " + t);
    }
    try {
      dfs.shutdown();
    } catch (Throwable t) {
      System.err.println("WARN stopping HDFS: " + t);
    }
  }

  private static void writeConfig(File confDir, Configuration conf, Configuration yconf,
      MiniDFSCluster dfs, MiniYARNCluster yarn, int numNMs, File work) throws IOException {
    Map<String, String> core = new LinkedHashMap<>();
    core.put("fs.defaultFS", conf.get("fs.defaultFS"));
    core.put("hadoop.security.authentication", "simple");
    core.put("hadoop.security.authorization", "false");
    core.put("hadoop.rpc.protection", "authentication");
    writeSite(new File(confDir, "core-site.xml"), core);

    InetSocketAddress nn = dfs.getNameNode().getNameNodeAddress();
    InetSocketAddress nnHttp = dfs.getNameNode().getHttpAddress();
    Map<String, String> hdfsSite = new LinkedHashMap<>();
    hdfsSite.put("dfs.namenode.rpc-address", "127.0.0.1:" + nn.getPort());
    hdfsSite.put("dfs.namenode.http-address", "127.0.0.1:" + nnHttp.getPort());
    hdfsSite.put("dfs.replication", "1");
    hdfsSite.put("dfs.client.use.datanode.hostname", "false");
    hdfsSite.put("dfs.permissions.enabled", "true");
    writeSite(new File(confDir, "hdfs-site.xml"), hdfsSite);

    writeSite(new File(confDir, "yarn-site.xml"), yarnSite(yconf));

    // A flat summary for scripts and tests that do not parse XML.
    Map<String, String> props = new LinkedHashMap<>();
    props.put("hdfs.uri", conf.get("fs.defaultFS"));
    props.put("hdfs.namenode.address", "127.0.0.1:" + nn.getPort());
    props.put("hdfs.namenode.http.address", "127.0.0.1:" + nnHttp.getPort());
    yarnProps(props, yconf, yarn, numNMs);
    props.put("work.dir", work.getPath());
    props.put("pid", Long.toString(ProcessHandle.current().pid()));
    StringBuilder sb = new StringBuilder("# flink-go Hadoop test bed (generated)\n");
    for (Map.Entry<String, String> e : props.entrySet()) {
      sb.append(e.getKey()).append('=').append(e.getValue() == null ? "" : e.getValue()).append('\n');
    }
    writeAtomically(new File(confDir, "cluster.properties"), sb.toString());
  }

  private static void writeSite(File f, Map<String, String> props) throws IOException {
    StringBuilder sb = new StringBuilder();
    sb.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sb.append("<!-- generated by the flink-go Hadoop test bed -->\n<configuration>\n");
    for (Map.Entry<String, String> e : props.entrySet()) {
      sb.append("  <property><name>").append(xml(e.getKey())).append("</name><value>")
          .append(xml(e.getValue())).append("</value></property>\n");
    }
    sb.append("</configuration>\n");
    writeAtomically(f, sb.toString());
  }

  private static void writeAtomically(File f, String content) throws IOException {
    File tmp = new File(f.getParentFile(), "." + f.getName() + ".tmp");
    try (OutputStream out = new FileOutputStream(tmp)) {
      out.write(content.getBytes(StandardCharsets.UTF_8));
    }
    Files.move(tmp.toPath(), f.toPath(), StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
  }

  private static String xml(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }

  private static void mkdir(FileSystem fs, String p, short perm) throws IOException {
    Path path = new Path(p);
    fs.mkdirs(path);
    fs.setPermission(path, new FsPermission(perm));
  }

  private static int envInt(String name, int def) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) {
      return def;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      System.err.println("ERROR " + name + "=" + v + " is not an integer");
      System.exit(2);
      return def;
    }
  }

  private static String secs(long t0) {
    return String.format("%.1f", (System.nanoTime() - t0) / 1e9);
  }

  private static void log(String msg) {
    PrintStream out = System.out;
    out.println("flink-go-minicluster: " + msg);
    out.flush();
  }
}
