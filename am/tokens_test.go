package am

import (
	"reflect"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/yarn"
)

func TestKerberosEnv(t *testing.T) {
	env := map[string]string{
		EnvKerberosKeytab:    "krb5.keytab",
		EnvKerberosPrincipal: "alice@EXAMPLE.COM",
		EnvKrb5Config:        "/nm/usercache/alice/appcache/application_1_0001/container_1/krb5.conf",
		EnvKrb5ClientKeytab:  "/nm/usercache/alice/appcache/application_1_0001/container_1/krb5.keytab",
	}
	got := KerberosEnv(func(k string) string { return env[k] })
	want := map[string]string{
		EnvKerberosKeytab:    "krb5.keytab",
		EnvKerberosPrincipal: "alice@EXAMPLE.COM",
		EnvKrb5ClientKeytab:  "{{PWD}}/krb5.keytab",
		EnvKrb5Config:        "{{PWD}}/krb5.conf",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	// No keytab shipped, the node's own krb5.conf: nothing to pass on.
	if got := KerberosEnv(func(k string) string {
		if k == EnvKrb5Config {
			return "/etc/krb5.conf.d/site"
		}
		return ""
	}); len(got) != 0 {
		t.Errorf("got %v, want nothing", got)
	}
	// A keytab name with a path is not one the client ships.
	if got := KerberosEnv(func(k string) string {
		if k == EnvKerberosKeytab {
			return "../etc/x.keytab"
		}
		return ""
	}); len(got) != 0 {
		t.Errorf("got %v for a path", got)
	}
}

func TestLaunchContextCarriesEnv(t *testing.T) {
	s := TaskManagerSpec{BinaryName: "job", JobManager: "h:1", JobID: "j", Slots: 1,
		Env: map[string]string{EnvKrb5ClientKeytab: "{{PWD}}/krb5.keytab"}}
	lc, err := s.LaunchContext(yarn.Container{})
	if err != nil {
		t.Fatal(err)
	}
	if v := lc.Environment[EnvKrb5ClientKeytab]; !strings.Contains(v, "{{PWD}}/krb5.keytab") {
		t.Fatalf("KRB5_CLIENT_KTNAME = %q", v)
	}
}
