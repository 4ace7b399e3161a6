// A real Hadoop IPC server (org.apache.hadoop.ipc.RPC with ProtobufRpcEngine2) serving Hadoop's own
// test protocol with TOKEN authentication and the given hadoop.rpc.protection, for the Go tests.
// Run with the Hadoop jars on the classpath: java -cp '<lib>/*' HadoopSaslServer.java <protection>
// Prints "FLINKGO <port> <token identifier hex> <token password hex>", then serves until stdin
// closes.
import java.util.HexFormat;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.ipc.ProtobufRpcEngine2;
import org.apache.hadoop.ipc.RPC;
import org.apache.hadoop.ipc.TestRpcBase;
import org.apache.hadoop.ipc.protobuf.TestRpcServiceProtos;
import org.apache.hadoop.security.token.Token;
import org.apache.hadoop.thirdparty.protobuf.BlockingService;

public class HadoopSaslServer {
  public static void main(String[] args) throws Exception {
    Configuration conf = new Configuration();
    conf.set("hadoop.rpc.protection", args[0]);
    RPC.setProtocolEngine(conf, TestRpcBase.TestRpcService.class, ProtobufRpcEngine2.class);
    TestRpcBase.TestTokenSecretManager sm = new TestRpcBase.TestTokenSecretManager();
    BlockingService service = TestRpcServiceProtos.TestProtobufRpcProto
        .newReflectiveBlockingService(new TestRpcBase.PBServerImpl());
    RPC.Server server = new RPC.Builder(conf).setProtocol(TestRpcBase.TestRpcService.class)
        .setInstance(service).setBindAddress("127.0.0.1").setPort(0).setNumHandlers(4)
        .setSecretManager(sm).build();
    server.start();
    Token<TestRpcBase.TestTokenIdentifier> tok =
        new Token<>(new TestRpcBase.TestTokenIdentifier(new Text("alice")), sm);
    HexFormat hex = HexFormat.of();
    // Hadoop's log4j also writes to stdout; the Go side reads only the FLINKGO line.
    System.out.println("FLINKGO " + server.getListenerAddress().getPort() + " "
        + hex.formatHex(tok.getIdentifier()) + " " + hex.formatHex(tok.getPassword()));
    System.out.flush();
    while (System.in.read() >= 0) {
    }
    server.stop();
  }
}
