package am

import (
	"path/filepath"
	"strings"
)

// Environment of a Kerberized deployment's containers (docs/kerberos.md). The client sets them
// in the AM's environment when it ships a keytab; the AM passes them on to its TaskManagers.
const (
	// EnvKerberosKeytab is the shipped keytab's file name in the container's work dir
	// (yarn.security.kerberos.localized-keytab-path).
	EnvKerberosKeytab = "FLINK_GO_KERBEROS_KEYTAB"
	// EnvKerberosPrincipal is the keytab's principal (security.kerberos.login.principal).
	EnvKerberosPrincipal = "FLINK_GO_KERBEROS_PRINCIPAL"
	// EnvKrb5ClientKeytab is MIT's client keytab variable, which the hdfs package reads: set to
	// the shipped keytab, a container can log in to Kerberos again.
	EnvKrb5ClientKeytab = "KRB5_CLIENT_KTNAME"
	// EnvKrb5Config names krb5.conf.
	EnvKrb5Config = "KRB5_CONFIG"
	// Krb5ConfName is the shipped krb5.conf's name in the container's work dir.
	Krb5ConfName = "krb5.conf"
)

// KerberosEnv is the Kerberos environment a TaskManager container gets from the AM's own
// (getenv): the shipped keytab's name and principal, KRB5_CLIENT_KTNAME pointing at the keytab
// in the TaskManager's own work dir, and KRB5_CONFIG at the shipped krb5.conf when the AM uses
// one. The staged files (keytab, krb5.conf) reach the TaskManagers with the other staged
// resources. Without a shipped keytab it is empty: the containers use the HDFS delegation token
// from their container tokens alone. Paths use {{PWD}}, which the NodeManager expands per
// container.
func KerberosEnv(getenv func(string) string) map[string]string {
	out := map[string]string{}
	if kt := getenv(EnvKerberosKeytab); kt != "" && !strings.ContainsAny(kt, "/\x00") {
		out[EnvKerberosKeytab] = kt
		out[EnvKrb5ClientKeytab] = "{{PWD}}/" + kt
		if p := getenv(EnvKerberosPrincipal); p != "" {
			out[EnvKerberosPrincipal] = p
		}
	}
	if c := getenv(EnvKrb5Config); c != "" && filepath.Base(c) == Krb5ConfName {
		out[EnvKrb5Config] = "{{PWD}}/" + Krb5ConfName
	}
	return out
}
