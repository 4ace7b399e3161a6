package hdfs

import "testing"

func TestContainerKeytab(t *testing.T) {
	files := map[string]bool{"/c/krb5.keytab": true}
	exists := func(p string) bool { return files[p] }
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if got := containerKeytab(env(map[string]string{"HADOOP_TOKEN_FILE_LOCATION": "/c/tokens", "KRB5_CLIENT_KTNAME": "FILE:/c/krb5.keytab"}), exists); got != "/c/krb5.keytab" {
		t.Errorf("in a container with a keytab: %q", got)
	}
	// Outside a container the client's own configuration decides.
	if got := containerKeytab(env(map[string]string{"KRB5_CLIENT_KTNAME": "/c/krb5.keytab"}), exists); got != "" {
		t.Errorf("outside a container: %q", got)
	}
	// A keytab that is not there: the delegation token.
	if got := containerKeytab(env(map[string]string{"HADOOP_TOKEN_FILE_LOCATION": "/c/tokens", "KRB5_CLIENT_KTNAME": "/c/none"}), exists); got != "" {
		t.Errorf("missing keytab: %q", got)
	}
}
