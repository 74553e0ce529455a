package deploy

import (
	"encoding/json"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kinesis-agg/kinesis_agg/conf"
	"github.com/kinesis-agg/kinesis_agg/internal/flbconfig"
)

const k8sDir = "kubernetes"

// object is the part of a Kubernetes manifest the tests read.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	// ConfigMap
	Data map[string]string `json:"data"`
	// ClusterRole
	Rules []struct {
		APIGroups []string `json:"apiGroups"`
		Resources []string `json:"resources"`
		Verbs     []string `json:"verbs"`
	} `json:"rules"`
	// ClusterRoleBinding
	RoleRef struct {
		APIGroup string `json:"apiGroup"`
		Kind     string `json:"kind"`
		Name     string `json:"name"`
	} `json:"roleRef"`
	Subjects []struct {
		Kind      string `json:"kind"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"subjects"`
	// Kustomization
	Resources []string `json:"resources"`
	// DaemonSet
	Spec json.RawMessage `json:"spec"`

	file string
}

type daemonSetSpec struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	Template struct {
		Metadata struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			ServiceAccountName string      `json:"serviceAccountName"`
			Containers         []container `json:"containers"`
			Volumes            []struct {
				Name     string `json:"name"`
				HostPath *struct {
					Path string `json:"path"`
					Type string `json:"type"`
				} `json:"hostPath"`
				ConfigMap *struct {
					Name string `json:"name"`
				} `json:"configMap"`
			} `json:"volumes"`
			Tolerations []struct {
				Key      string `json:"key"`
				Operator string `json:"operator"`
				Effect   string `json:"effect"`
			} `json:"tolerations"`
		} `json:"spec"`
	} `json:"template"`
}

type probe struct {
	HTTPGet *struct {
		Path string `json:"path"`
		Port string `json:"port"`
	} `json:"httpGet"`
}

type container struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command"`
	Args    []string `json:"args"`
	Env     []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	Resources struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	} `json:"resources"`
	VolumeMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
		ReadOnly  bool   `json:"readOnly"`
	} `json:"volumeMounts"`
	LivenessProbe  *probe `json:"livenessProbe"`
	ReadinessProbe *probe `json:"readinessProbe"`
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// loadManifests parses every YAML document of every .yaml file in dir.
func loadManifests(t *testing.T, dir string) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	var out []object
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsRune(string(raw), '\t') {
			t.Errorf("%s: YAML must not contain tabs", f)
		}
		for i, doc := range docSeparator.Split(string(raw), -1) {
			if onlyComments(doc) {
				continue
			}
			var o object
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			if o.APIVersion == "" || o.Kind == "" {
				t.Errorf("%s document %d: no apiVersion or kind", f, i+1)
			}
			o.file = filepath.Base(f)
			out = append(out, o)
		}
	}
	return out
}

func onlyComments(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func find(t *testing.T, objs []object, kind string) object {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.Kind == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d objects of kind %s, want 1", len(found), kind)
	}
	return found[0]
}

// dockerfile returns the Dockerfile's install path of the plugin and the Fluent Bit binary of
// its CMD.
func dockerfile(t *testing.T) (soPath, binary string) {
	t.Helper()
	raw, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^COPY --from=build \S+/out_kinesis_agg\.so (\S+)$`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatal("Dockerfile does not install out_kinesis_agg.so")
	}
	c := regexp.MustCompile(`(?m)^CMD \["([^"]+)"`).FindStringSubmatch(string(raw))
	if c == nil {
		t.Fatal("Dockerfile has no exec-form CMD")
	}
	return m[1], c[1]
}

func TestKubernetesManifests(t *testing.T) {
	objs := loadManifests(t, k8sDir)

	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind)
	}
	sort.Strings(kinds)
	if want := "ClusterRole ClusterRoleBinding ConfigMap DaemonSet Kustomization Namespace ServiceAccount"; strings.Join(kinds, " ") != want {
		t.Fatalf("kinds %v, want %s", kinds, want)
	}

	// The Kustomization lists every other manifest file.
	kust := find(t, objs, "Kustomization")
	var files []string
	for _, o := range objs {
		if o.Kind != "Kustomization" && !slices.Contains(files, o.file) {
			files = append(files, o.file)
		}
	}
	sort.Strings(files)
	res := slices.Clone(kust.Resources)
	sort.Strings(res)
	if !slices.Equal(res, files) {
		t.Errorf("kustomization resources %v, want %v", res, files)
	}

	// Everything namespaced lives in the one namespace.
	ns := find(t, objs, "Namespace").Metadata.Name
	for _, o := range objs {
		switch o.Kind {
		case "ServiceAccount", "ConfigMap", "DaemonSet":
			if o.Metadata.Namespace != ns {
				t.Errorf("%s %s is in namespace %q, want %q", o.Kind, o.Metadata.Name, o.Metadata.Namespace, ns)
			}
		}
	}

	sa := find(t, objs, "ServiceAccount")
	if arn := sa.Metadata.Annotations["eks.amazonaws.com/role-arn"]; !regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`).MatchString(arn) {
		t.Errorf("service account role-arn annotation %q is not an IAM role ARN", arn)
	}

	// The kubernetes filter may read pods and namespaces, and the binding grants that to the
	// DaemonSet's service account.
	role := find(t, objs, "ClusterRole")
	for _, res := range []string{"pods", "namespaces"} {
		for _, verb := range []string{"get", "list", "watch"} {
			ok := false
			for _, r := range role.Rules {
				ok = ok || slices.Contains(r.APIGroups, "") && slices.Contains(r.Resources, res) && slices.Contains(r.Verbs, verb)
			}
			if !ok {
				t.Errorf("ClusterRole does not allow %s %s", verb, res)
			}
		}
	}
	bind := find(t, objs, "ClusterRoleBinding")
	if bind.RoleRef.Kind != "ClusterRole" || bind.RoleRef.Name != role.Metadata.Name || bind.RoleRef.APIGroup != "rbac.authorization.k8s.io" {
		t.Errorf("binding refers to %+v, want ClusterRole %s", bind.RoleRef, role.Metadata.Name)
	}
	if len(bind.Subjects) != 1 || bind.Subjects[0].Kind != "ServiceAccount" || bind.Subjects[0].Name != sa.Metadata.Name || bind.Subjects[0].Namespace != ns {
		t.Errorf("binding subjects %+v, want ServiceAccount %s/%s", bind.Subjects, ns, sa.Metadata.Name)
	}

	ds := find(t, objs, "DaemonSet")
	var spec daemonSetSpec
	if err := json.Unmarshal(ds.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	pod := spec.Template.Spec
	if pod.ServiceAccountName != sa.Metadata.Name {
		t.Errorf("DaemonSet runs as %q, want %q", pod.ServiceAccountName, sa.Metadata.Name)
	}
	if len(spec.Selector.MatchLabels) == 0 {
		t.Error("DaemonSet has no selector")
	}
	for k, v := range spec.Selector.MatchLabels {
		if spec.Template.Metadata.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels", k, v)
		}
	}
	if len(pod.Tolerations) == 0 {
		t.Error("no tolerations: tainted nodes would ship no logs")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	// The image is the Makefile's (and so the Dockerfile's) placeholder name, and the command
	// is the image's Fluent Bit binary reading the mounted configuration.
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^IMAGE\s*\?=\s*(\S+)$`).FindSubmatch(mk); m == nil || string(m[1]) != c.Image || c.Image != "kinesis-agg-fluent-bit:latest" {
		t.Errorf("image %q, want kinesis-agg-fluent-bit:latest as in the Makefile's IMAGE", c.Image)
	}
	soPath, binary := dockerfile(t)
	if len(c.Command) != 1 || c.Command[0] != binary {
		t.Errorf("command %v, want [%s]", c.Command, binary)
	}
	var configPath string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			configPath = v
		}
	}

	for _, kind := range []string{"cpu", "memory"} {
		if c.Resources.Requests[kind] == "" || c.Resources.Limits[kind] == "" {
			t.Errorf("resources: %s request %q limit %q, want both", kind, c.Resources.Requests[kind], c.Resources.Limits[kind])
		}
	}

	// Volumes: every mount has a volume and every volume a mount.
	mounts := map[string]string{} // volume -> mount path
	readOnly := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
		readOnly[m.Name] = m.ReadOnly
	}
	volumes := map[string]bool{}
	hostPaths := map[string]string{} // host path -> mount path
	var configDir string
	for _, v := range pod.Volumes {
		volumes[v.Name] = true
		mp, ok := mounts[v.Name]
		if !ok {
			t.Errorf("volume %s is not mounted", v.Name)
			continue
		}
		switch {
		case v.HostPath != nil:
			hostPaths[v.HostPath.Path] = mp
		case v.ConfigMap != nil:
			if v.ConfigMap.Name != find(t, objs, "ConfigMap").Metadata.Name {
				t.Errorf("volume %s uses ConfigMap %q", v.Name, v.ConfigMap.Name)
			}
			configDir = mp
		}
	}
	for name := range mounts {
		if !volumes[name] {
			t.Errorf("mount %s has no volume", name)
		}
	}
	if hostPaths["/var/log"] != "/var/log" {
		t.Errorf("host /var/log mounted at %q, want /var/log", hostPaths["/var/log"])
	}
	for name, mp := range mounts {
		if mp == "/var/log" && !readOnly[name] {
			t.Error("/var/log must be mounted read-only")
		}
	}
	if configDir == "" || path.Join(configDir, "fluent-bit.conf") != configPath {
		t.Errorf("--config=%s is not fluent-bit.conf in the ConfigMap mount %q", configPath, configDir)
	}

	// Ports: probes use declared ports; the metrics annotation and port are the plugin's.
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for name, p := range map[string]*probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || ports[p.HTTPGet.Port] == 0 {
			t.Errorf("%s probe is missing or uses an undeclared port", name)
		}
	}

	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}

	// The configuration.
	cm := find(t, objs, "ConfigMap")
	flb := cm.Data["fluent-bit.conf"]
	if flb == "" {
		t.Fatal("ConfigMap has no fluent-bit.conf")
	}
	for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(flb, -1) {
		if env[m[1]] == "" {
			t.Errorf("fluent-bit.conf uses ${%s}, which the DaemonSet does not set", m[1])
		}
	}
	sections, err := flbconfig.Parse(flb, expander(env))
	if err != nil {
		t.Fatal(err)
	}
	section := func(name, plugin string) flbconfig.Section {
		t.Helper()
		for _, s := range sections {
			if s.Name == name && (plugin == "" || strings.EqualFold(s.Get("name"), plugin)) {
				return s
			}
		}
		t.Fatalf("fluent-bit.conf has no [%s] %s", name, plugin)
		return flbconfig.Section{}
	}
	svc := section("SERVICE", "")
	if got := svc.Get("plugins_file"); got != path.Join(configDir, "plugins.conf") {
		t.Errorf("Plugins_File %q is not plugins.conf in the ConfigMap mount %q", got, configDir)
	}
	if svc.Get("http_port") != "2020" || ports["http"] != 2020 {
		t.Errorf("HTTP_Port %q, container port http %d: want 2020 for both", svc.Get("http_port"), ports["http"])
	}

	tail := section("INPUT", "tail")
	for k, want := range map[string]string{
		"path":             "/var/log/containers/*.log",
		"multiline.parser": "docker, cri",
		"storage.type":     "filesystem",
		"exclude_path":     "/var/log/containers/" + ds.Metadata.Name + "-*_" + ns + "_*.log",
	} {
		if got := tail.Get(k); got != want {
			t.Errorf("tail %s = %q, want %q", k, got, want)
		}
	}
	kube := section("FILTER", "kubernetes")
	if !strings.EqualFold(kube.Get("merge_log"), "on") {
		t.Errorf("kubernetes filter Merge_Log = %q, want On", kube.Get("merge_log"))
	}
	if tag := tail.Get("tag"); kube.Get("match") != tag || !strings.HasPrefix(kube.Get("kube_tag_prefix"), strings.TrimSuffix(tag, "*")) {
		t.Errorf("kubernetes filter Match %q / Kube_Tag_Prefix %q do not fit the tail Tag %q", kube.Get("match"), kube.Get("kube_tag_prefix"), tag)
	}

	// Files the configuration writes live on the persistent host mount.
	var bufferMount string
	for hp, mp := range hostPaths {
		if hp != "/var/log" {
			bufferMount = mp
		}
	}
	for _, p := range []string{svc.Get("storage.path"), tail.Get("db"), section("OUTPUT", "kinesis_agg").Get("dead_letter_path")} {
		if bufferMount == "" || !strings.HasPrefix(p, strings.TrimSuffix(bufferMount, "/")+"/") {
			t.Errorf("%q is not on the buffer host mount %q", p, bufferMount)
		}
	}

	outs := checkOutputText(t, "configmap fluent-bit.conf", flb, env, 1)
	out, cfg := outs[0].section, outs[0].cfg
	for k, want := range map[string]string{"workers": "2", "retry_limit": "no_limits", "match": tail.Get("tag")} {
		if got := out.Get(k); got != want {
			t.Errorf("[OUTPUT] %s = %q, want %q", k, got, want)
		}
	}
	if cfg.Region != env["AWS_REGION"] || cfg.StreamName != env["KINESIS_STREAM"] {
		t.Errorf("region %q stream %q, want the DaemonSet's %q %q", cfg.Region, cfg.StreamName, env["AWS_REGION"], env["KINESIS_STREAM"])
	}
	if !slices.Equal(cfg.PartitionKey, []string{"kubernetes", "pod_name"}) {
		t.Errorf("partition key %v, want $kubernetes['pod_name']", cfg.PartitionKey)
	}
	if ml := out.Get("metrics_listen"); ml != "" {
		_, port, err := net.SplitHostPort(ml)
		if err != nil {
			t.Errorf("metrics_listen %q: %v", ml, err)
		}
		if ann := spec.Template.Metadata.Annotations["prometheus.io/port"]; ann != port || ports["metrics"] == 0 || strconv.Itoa(ports["metrics"]) != port {
			t.Errorf("metrics_listen port %s, prometheus.io/port %q, container port metrics %d: want all equal", port, ann, ports["metrics"])
		}
	}

	// plugins.conf loads the plugin from where the Dockerfile installs it.
	plugins, err := flbconfig.Parse(cm.Data["plugins.conf"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plugins) != 1 || plugins[0].Name != "PLUGINS" || plugins[0].Get("path") != soPath {
		t.Errorf("plugins.conf %+v, want [PLUGINS] Path %s", plugins, soPath)
	}
}

// expander looks ${VAR}s up in env; a variable env does not have expands to "", as in Fluent Bit.
func expander(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// An [OUTPUT] and what conf.Parse made of it.
type parsedOutput struct {
	section flbconfig.Section
	cfg     *conf.Config
}

// checkOutputText is checkOutputs for configuration text: it parses text, runs every kinesis_agg
// [OUTPUT] through conf.Parse with env expanding ${VAR}s, and wants no warnings and Workers >= 1.
func checkOutputText(t *testing.T, name, text string, env map[string]string, want int) []parsedOutput {
	t.Helper()
	sections, err := flbconfig.Parse(text, expander(env))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	outs := flbconfig.Outputs(sections, "kinesis_agg")
	if len(outs) != want {
		t.Fatalf("%s: %d kinesis_agg outputs, want %d", name, len(outs), want)
	}
	var res []parsedOutput
	for _, o := range outs {
		cfg, err := conf.Parse(o.Get)
		if err != nil {
			t.Fatalf("%s line %d: %v", name, o.Line, err)
		}
		if len(cfg.Warnings) > 0 {
			t.Errorf("%s: warnings %v", name, cfg.Warnings)
		}
		if w := o.Get("workers"); w == "" || w == "0" {
			t.Errorf("%s: set Workers >= 1 so a slow flush does not stall the pipeline", name)
		}
		res = append(res, parsedOutput{o, cfg})
	}
	return res
}

// The IAM policy grants exactly the calls the plugin makes, and the README lists every file.
func TestKubernetesSupportFiles(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(k8sDir, "iam-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pol struct {
		Version   string
		Statement []struct {
			Effect   string
			Action   []string
			Resource string
		}
	}
	if err := json.Unmarshal(raw, &pol); err != nil {
		t.Fatalf("iam-policy.json: %v", err)
	}
	if pol.Version != "2012-10-17" || len(pol.Statement) != 1 || pol.Statement[0].Effect != "Allow" {
		t.Fatalf("iam-policy.json: %+v", pol)
	}
	acts := slices.Clone(pol.Statement[0].Action)
	sort.Strings(acts)
	if want := []string{"kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:PutRecords"}; !slices.Equal(acts, want) {
		t.Errorf("policy actions %v, want %v", acts, want)
	}
	if !strings.Contains(pol.Statement[0].Resource, ":stream/") {
		t.Errorf("policy resource %q is not a stream ARN", pol.Statement[0].Resource)
	}

	readme, err := os.ReadFile(filepath.Join(k8sDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "README.md" && !strings.Contains(string(readme), "`"+e.Name()+"`") {
			t.Errorf("README.md does not describe %s", e.Name())
		}
	}
}
