// Package hdfs is flink-go's HDFS access: github.com/colinmarc/hdfs/v2 behind
// the fs.FileSystem interface, registered for the "hdfs" scheme, so that
//
//	import _ "github.com/flink-go/flink-go/hdfs"
//	fsys, p, err := fs.Get(ctx, "hdfs:///user/alice/.flink-go/app_1/job")
//
// works for checkpoints, savepoints, the YARN staging directory and HA data.
//
// # Configuration
//
// LoadConf/LoadOptions read core-site.xml and hdfs-site.xml from
// HADOOP_CONF_DIR (then HADOOP_HOME/conf). fs.defaultFS names the NameNode, or
// an HA nameservice whose NameNodes come from dfs.ha.namenodes.<ns> and
// dfs.namenode.rpc-address.<ns>.<nn>. "hdfs://host:port/p" works without any
// configuration (SIMPLE auth). Without configuration, "hdfs:///p" and
// NewFromEnv fail with ErrNoConfig ("is HADOOP_CONF_DIR set?").
//
// The SIMPLE user is HADOOP_USER_NAME, then USER (DefaultUser). Inside YARN
// containers USER is the submitter while the process runs as the
// NodeManager's account, so the OS account is only a last resort.
//
// # High availability
//
// An HA nameservice in fs.defaultFS (or a URI's authority) resolves to all
// its NameNodes (dfs.ha.namenodes.<ns>, dfs.namenode.rpc-address.<ns>.<nn>),
// and URI() keeps the nameservice. colinmarc moves to the next NameNode on a
// StandbyException but then avoids a NameNode for 5 s; operations here retry
// StandbyExceptions for up to 30 s (a standby executes nothing, so every
// operation is safe to retry), so a failover, even straight back, costs a
// pause, not an error.
//
// # Writing files
//
// Create takes fs.CreateOptions: Replication and BlockSize per file (0 means
// Options.Replication/BlockSize, then the NameNode's defaults). Close retries
// HDFS's "last block not yet replicated" answer with backoff, as the Java
// client does. Upload copies a local file and returns a Resource holding
// exactly the size and millisecond modification time the NameNode reports:
// what a YARN LocalResource must carry, or the NodeManager rejects the resource
// as "changed on src filesystem". StatResource gives the same for an existing
// file, URI its fully qualified hdfs:// URI.
//
// # Kerberos
//
// With hadoop.security.authentication=kerberos, OptionsFromConf sets
// Options.Kerberos with the NameNode principal from
// dfs.namenode.kerberos.principal ("nn/_HOST@REALM"; _HOST becomes the
// NameNode's host). Fill in KerberosOptions.Principal and Keytab (long-running
// jobs: the client re-logs in from the keytab whenever its tickets expire), or
// leave Keytab empty to use a kinit credential cache (KRB5CCNAME or
// /tmp/krb5cc_<uid>; tickets expire). krb5.conf comes from KRB5_CONFIG or
// /etc/krb5.conf. The GSSAPI exchange is colinmarc's (gokrb5). Data transfer
// protection (dfs.data.transfer.protection, dfs.encrypt.data.transfer) is
// passed through; colinmarc speaks SASL to DataNodes with the block access
// tokens the NameNode hands out.
//
// # Delegation tokens
//
// A YARN container in a Kerberized cluster has no Kerberos credentials, only
// the HDFS delegation token the submitter put into its token file
// (HADOOP_TOKEN_FILE_LOCATION). colinmarc/hdfs v2.4.0 cannot use such a token
// by itself: its ClientOptions have no token field, and its NameNode handshake
// (internal/rpc/namenode.go doNamenodeHandshake) only knows auth byte 0x00
// (SIMPLE) or SASL with GSSAPI. The NameNode authenticates delegation tokens
// with SASL method TOKEN, mechanism DIGEST-MD5 (username = base64 of the token
// identifier, password = base64 of the token password, digest-uri
// "/default"), which colinmarc implements only for DataNodes, internally.
//
// This package closes the gap without forking colinmarc: Options.Token makes
// New dial the NameNode through its own dialer (ClientOptions.NamenodeDialFunc)
// which runs the SASL TOKEN/DIGEST-MD5 handshake (internal/tokenauth: preamble
// with auth byte 0xDF, NEGOTIATE, INITIATE echoing the server's TOKEN auth,
// SUCCESS with rspauth verified) and then hands colinmarc a connection that
// swallows colinmarc's own 7-byte SIMPLE preamble and passes everything else
// through. colinmarc's connection context carries ClientOptions.User as the
// effective user, which the NameNode requires to equal the token's user
// (Server.processConnectionContext: "Authenticated user ... doesn't match what
// the client claims to be"), so New sets it to the owner parsed from the
// identifier (ParseDelegationTokenIdentifier). DataNodes need no change:
// colinmarc authenticates to them with the block access tokens the NameNode
// returns.
//
// The submitter side: FetchDelegationToken asks the NameNode for a token over
// WebHDFS (GETDELEGATIONTOKEN; SPNEGO with KerberosOptions on secure
// clusters) — colinmarc has no getDelegationToken RPC — and records it with
// kind HDFS_DELEGATION_TOKEN and the service Java clients use (TokenService:
// "ip:port" of the NameNode RPC address, or "ha-hdfs:<nameservice>"), ready
// for the AM's container tokens and the ResourceManager's renewer.
// RenewDelegationToken and CancelDelegationToken do the rest of the life
// cycle over WebHDFS; EncodeTokenString/DecodeTokenString convert Hadoop's
// URL-safe token strings.
//
// In a container, LoadOptions picks the token automatically when the
// configuration says Kerberos (UseContainerToken: kind HDFS_DELEGATION_TOKEN,
// service "ha-hdfs:<nameservice>" or the NameNode's host:port, else the only
// HDFS token). DecodeTokenString reads tokens in Hadoop's URL-safe string form
// (WebHDFS GETDELEGATIONTOKEN, `hdfs fetchdt`).
//
// Tested against both test beds: the simple one, whose NameNode issues tokens
// although security is off (dfs.namenode.delegation.token.always-use) — login
// with a fetched token, file ownership by the token owner, refusal of a wrong
// password, selection from a container token file — and the Kerberos one
// (testbed.RequireKerberos): keytab login, token fetched over SPNEGO, then a
// token-only login to the Kerberized NameNode that writes and reads a file.
//
// All three hadoop.rpc.protection levels work for token logins: with
// integrity or privacy (DIGEST-MD5 auth-int, or auth-conf with RC4) the
// NameNode wraps its responses and the connection unwraps them before
// colinmarc reads; requests go out plain, which Hadoop's server accepts on a
// wrapped connection (colinmarc's Kerberos privacy support relies on the same).
// The Kerberos test bed runs with privacy; 3DES/DES auth-conf is not
// implemented (Hadoop's server offers RC4 first).
//
// GetDelegationToken obtains the same token over RPC
// (ClientNamenodeProtocol.getDelegationToken, Kerberos IPC through yarn/ipc):
// what flink-go's YARN client uses, since it needs only the RPC address.
//
// In a container that was given a keytab (KRB5_CLIENT_KTNAME, with the token
// file present) the hdfs:// factory logs in again from the keytab first, as
// Flink's containers do, and uses the delegation token only when that login
// fails (docs/kerberos.md).
//
// Still missing:
//   - Fresh tokens for containers started after a token's maximum lifetime (7
//     days by default): the AM would have to fetch and redistribute them.
package hdfs
