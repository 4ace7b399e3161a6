package configs

// File system (S3) and security (Kerberos, delegation tokens) options.

var (
	// DefaultScheme is the scheme of paths without one.
	DefaultScheme = String("fs.default-scheme", "",
		"Scheme (and authority) used for paths without one, e.g. hdfs://namenode:8020/. Unset means file:///.").WithoutDefault().
		WithoutEffect("paths without a scheme are local files; use a full URI (hdfs:///..., s3://...) for other file systems.")

	// S3Endpoint is the S3 service endpoint.
	S3Endpoint = String("s3.endpoint", "",
		"S3 endpoint URL, for S3-compatible stores or VPC endpoints. Unset means the AWS endpoint of the region from the default credential chain.").WithoutDefault()

	// S3PathStyleAccess uses path-style URLs.
	S3PathStyleAccess = Bool("s3.path.style.access", false,
		"Address buckets as endpoint/bucket/key instead of bucket.endpoint/key (needed by most S3-compatible stores).")

	// S3AccessKey is a static access key (discouraged).
	S3AccessKey = String("s3.access-key", "",
		"Static S3 access key. Prefer IAM roles (the default credential chain, as on EMR).").WithoutDefault().Secret()

	// S3SecretKey is a static secret key (discouraged).
	S3SecretKey = String("s3.secret-key", "",
		"Static S3 secret key. Prefer IAM roles (the default credential chain, as on EMR).").WithoutDefault().Secret()

	// S3EntropyKey is the placeholder replaced by random characters in checkpoint paths.
	S3EntropyKey = String("s3.entropy.key", "",
		"Marker in checkpoint paths replaced by random characters for checkpoint data files (and removed from metadata paths), spreading writes over S3 partitions.").WithoutDefault()

	// S3EntropyLength is the number of random characters.
	S3EntropyLength = Int("s3.entropy.length", 4,
		"Number of random characters that replace s3.entropy.key.")

	// KerberosKeytab is the keytab used to log in.
	KerberosKeytab = String("security.kerberos.login.keytab", "",
		"Absolute path of a Kerberos keytab. With security.kerberos.login.principal, used to log in and shipped to YARN containers.").WithoutDefault()

	// KerberosPrincipal is the principal in the keytab.
	KerberosPrincipal = String("security.kerberos.login.principal", "",
		"Kerberos principal of the keytab, e.g. flink/host@REALM.").WithoutDefault()

	// KerberosUseTicketCache uses the user's ticket cache (kinit).
	KerberosUseTicketCache = Bool("security.kerberos.login.use-ticket-cache", true,
		"Use the Kerberos ticket cache (from kinit) when no keytab is configured.")

	// KerberosKrb5Conf is the krb5.conf to use and ship.
	KerberosKrb5Conf = String("security.kerberos.krb5-conf.path", "",
		"Path of a krb5.conf to use and ship to YARN containers. Unset means the system's (/etc/krb5.conf or KRB5_CONFIG).").WithoutDefault()

	// DelegationTokensEnabled obtains delegation tokens for containers.
	DelegationTokensEnabled = Bool("security.delegation.tokens.enabled", true,
		"Obtain Hadoop delegation tokens (HDFS, YARN) at submission and ship them to containers.")

	// KerberosAccessFileSystems lists further file systems to obtain tokens for.
	KerberosAccessFileSystems = List("security.kerberos.access.hadoopFileSystems", nil,
		"Further Hadoop file systems (';'-separated URIs) to obtain delegation tokens for.").
		WithoutEffect("only the default file system gets a delegation token; the keytab login (security.kerberos.login.keytab) reaches other secured HDFS clusters (docs/kerberos.md).")
)
