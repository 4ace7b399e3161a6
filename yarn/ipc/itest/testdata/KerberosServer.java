// A MiniKdc (Apache Kerby) plus a real Hadoop IPC server with Kerberos authentication, for the Go
// GSSAPI tests. Run with the Hadoop and MiniKdc jars on the classpath:
//   java -cp '<hadoop lib>/*:<minikdc lib>/*' KerberosServer.java <protection> <work dir>
// Prints "FLINKGO <port> <realm> <krb5.conf> <client keytab> <client credential cache>", then serves
// until stdin closes.
import java.io.File;
import java.util.Properties;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.ipc.ProtobufRpcEngine2;
import org.apache.hadoop.ipc.RPC;
import org.apache.hadoop.ipc.TestRpcBase;
import org.apache.hadoop.ipc.protobuf.TestRpcServiceProtos;
import org.apache.hadoop.minikdc.MiniKdc;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.thirdparty.protobuf.BlockingService;
import org.apache.kerby.kerberos.kerb.client.KrbClient;

public class KerberosServer {
  public static void main(String[] args) throws Exception {
    String protection = args[0];
    File dir = new File(args[1]);
    Properties kdcConf = MiniKdc.createConf();
    MiniKdc kdc = new MiniKdc(kdcConf, dir);
    kdc.start(); // also points java.security.krb5.conf at its krb5.conf
    String realm = kdc.getRealm();
    File serverKeytab = new File(dir, "server.keytab");
    kdc.createPrincipal(serverKeytab, "server/localhost");
    File clientKeytab = new File(dir, "client.keytab");
    kdc.createPrincipal(clientKeytab, "client");
    // A credential cache holding the client's TGT, as kinit would write it.
    KrbClient krb = new KrbClient(kdc.getKrb5conf().getParentFile());
    krb.init();
    File ccache = new File(dir, "client.ccache");
    krb.storeTicket(krb.requestTgt("client@" + realm, clientKeytab), ccache);

    Configuration conf = new Configuration();
    conf.set("hadoop.security.authentication", "kerberos");
    conf.set("hadoop.rpc.protection", protection);
    conf.set("test.ipc.server.principal", "server/localhost@" + realm);
    UserGroupInformation.setConfiguration(conf);
    UserGroupInformation.loginUserFromKeytab("server/localhost@" + realm, serverKeytab.getPath());

    RPC.setProtocolEngine(conf, TestRpcBase.TestRpcService.class, ProtobufRpcEngine2.class);
    BlockingService service = TestRpcServiceProtos.TestProtobufRpcProto
        .newReflectiveBlockingService(new TestRpcBase.PBServerImpl());
    RPC.Server server = new RPC.Builder(conf).setProtocol(TestRpcBase.TestRpcService.class)
        .setInstance(service).setBindAddress("127.0.0.1").setPort(0).setNumHandlers(4).build();
    server.start();
    System.out.println("FLINKGO " + server.getListenerAddress().getPort() + " " + realm + " "
        + kdc.getKrb5conf().getAbsolutePath() + " " + clientKeytab.getAbsolutePath() + " "
        + ccache.getAbsolutePath());
    System.out.flush();
    while (System.in.read() >= 0) {
    }
    server.stop();
    kdc.stop();
  }
}
