// A DIGEST-MD5 server built on the JDK's own SASL implementation (the one Hadoop's IPC server
// uses), driven line by line over stdin/stdout so the Go tests can check the Go client against it.
// Run with: java JdkDigestServer.java <qop list> <username> <password>
//
// Protocol (every value hex-encoded, one per line):
//   out: challenge
//   in:  client response          out: final server message (rspauth=...) or "ERR <message>"
//   out: negotiated qop
//   then repeatedly:
//   in:  wrapped client message   out: unwrapped plaintext
//   out: server's wrap of ("echo:" + plaintext)
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.sasl.AuthorizeCallback;
import javax.security.sasl.RealmCallback;
import javax.security.sasl.Sasl;
import javax.security.sasl.SaslServer;

public class JdkDigestServer {
  public static void main(String[] args) throws Exception {
    String qop = args[0], user = args[1], password = args[2];
    Map<String, String> props = new HashMap<>();
    props.put(Sasl.QOP, qop);
    props.put(Sasl.SERVER_AUTH, "true");
    SaslServer server = Sasl.createSaslServer("DIGEST-MD5", "", "default", props, callbacks -> {
      for (Callback cb : callbacks) {
        if (cb instanceof NameCallback) {
          NameCallback nc = (NameCallback) cb;
          if (!user.equals(nc.getDefaultName())) throw new SecurityException("unknown user " + nc.getDefaultName());
        } else if (cb instanceof PasswordCallback) {
          ((PasswordCallback) cb).setPassword(password.toCharArray());
        } else if (cb instanceof AuthorizeCallback) {
          AuthorizeCallback ac = (AuthorizeCallback) cb;
          ac.setAuthorized(ac.getAuthenticationID().equals(ac.getAuthorizationID()));
          if (ac.isAuthorized()) ac.setAuthorizedID(ac.getAuthorizationID());
        } else if (cb instanceof RealmCallback) {
          RealmCallback rc = (RealmCallback) cb;
          rc.setText(rc.getDefaultText());
        }
      }
    });
    HexFormat hex = HexFormat.of();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    System.out.println(hex.formatHex(server.evaluateResponse(new byte[0])));
    System.out.flush();
    byte[] response = hex.parseHex(in.readLine().trim());
    try {
      byte[] fin = server.evaluateResponse(response);
      System.out.println(hex.formatHex(fin));
    } catch (Exception e) {
      System.out.println("ERR " + e.getMessage());
      System.out.flush();
      return;
    }
    System.out.println(hex.formatHex(((String) server.getNegotiatedProperty(Sasl.QOP)).getBytes(StandardCharsets.UTF_8)));
    System.out.flush();
    String line;
    while ((line = in.readLine()) != null) {
      byte[] tok = hex.parseHex(line.trim());
      byte[] plain = server.unwrap(tok, 0, tok.length);
      System.out.println(hex.formatHex(plain));
      byte[] reply = ("echo:" + new String(plain, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
      System.out.println(hex.formatHex(server.wrap(reply, 0, reply.length)));
      System.out.flush();
    }
  }
}
