//! For the ingress-nginx install of `kdeck up`: a manifest shaped as upstream's
//! static kind manifest (the same objects, names, images, Job arguments, webhook
//! and certificate volume; RBAC trimmed), and a local HTTP server that serves it
//! (or anything else) and counts the requests, as the pinned URL's stand-in.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// ingress-nginx as upstream's `deploy/static/provider/kind/deploy.yaml` installs
/// it: the controller (its webhook certificate mounted from the Secret the
/// admission Jobs create), its Services, the admission Jobs
/// (kube-webhook-certgen `create` and `patch`, removed once finished), the
/// IngressClass and the ValidatingWebhookConfiguration.
pub const MANIFEST: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: ingress-nginx, labels: {app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/instance: ingress-nginx}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ingress-nginx, namespace: ingress-nginx}
automountServiceAccountToken: true
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ingress-nginx-admission, namespace: ingress-nginx}
automountServiceAccountToken: true
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ingress-nginx-admission}
rules: [{apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations], verbs: [get, update]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ingress-nginx-admission}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ingress-nginx-admission}
subjects: [{kind: ServiceAccount, name: ingress-nginx-admission, namespace: ingress-nginx}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
---
apiVersion: v1
kind: Service
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  type: LoadBalancer
  ipFamilyPolicy: SingleStack
  ipFamilies: [IPv4]
  ports:
    - {appProtocol: http, name: http, port: 80, protocol: TCP, targetPort: http}
    - {appProtocol: https, name: https, port: 443, protocol: TCP, targetPort: https}
  selector: {app.kubernetes.io/component: controller, app.kubernetes.io/instance: ingress-nginx, app.kubernetes.io/name: ingress-nginx}
---
apiVersion: v1
kind: Service
metadata: {name: ingress-nginx-controller-admission, namespace: ingress-nginx}
spec:
  type: ClusterIP
  ports: [{appProtocol: https, name: https-webhook, port: 443, targetPort: webhook}]
  selector: {app.kubernetes.io/component: controller, app.kubernetes.io/instance: ingress-nginx, app.kubernetes.io/name: ingress-nginx}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  minReadySeconds: 0
  revisionHistoryLimit: 10
  selector:
    matchLabels: {app.kubernetes.io/component: controller, app.kubernetes.io/instance: ingress-nginx, app.kubernetes.io/name: ingress-nginx}
  strategy: {rollingUpdate: {maxUnavailable: 1}, type: RollingUpdate}
  template:
    metadata:
      labels: {app.kubernetes.io/component: controller, app.kubernetes.io/instance: ingress-nginx, app.kubernetes.io/name: ingress-nginx}
    spec:
      containers:
        - name: controller
          image: registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1
          args: [/nginx-ingress-controller, --election-id=ingress-nginx-leader, --controller-class=k8s.io/ingress-nginx, --ingress-class=nginx,
                 "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller", "--validating-webhook=:8443",
                 --validating-webhook-certificate=/usr/local/certificates/cert, --validating-webhook-key=/usr/local/certificates/key,
                 --watch-ingress-without-class=true, --publish-status-address=localhost]
          env:
            - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
          ports:
            - {containerPort: 80, hostPort: 80, name: http, protocol: TCP}
            - {containerPort: 443, hostPort: 443, name: https, protocol: TCP}
            - {containerPort: 8443, name: webhook, protocol: TCP}
          readinessProbe: {httpGet: {path: /healthz, port: 10254, scheme: HTTP}, initialDelaySeconds: 1, periodSeconds: 1}
          resources: {requests: {cpu: 100m, memory: 90Mi}}
          securityContext: {runAsNonRoot: true, runAsUser: 101, runAsGroup: 82, allowPrivilegeEscalation: false}
          volumeMounts: [{mountPath: /usr/local/certificates/, name: webhook-cert, readOnly: true}]
      nodeSelector: {kubernetes.io/os: linux}
      serviceAccountName: ingress-nginx
      terminationGracePeriodSeconds: 0
      tolerations:
        - {effect: NoSchedule, key: node-role.kubernetes.io/master, operator: Equal}
        - {effect: NoSchedule, key: node-role.kubernetes.io/control-plane, operator: Equal}
      volumes: [{name: webhook-cert, secret: {secretName: ingress-nginx-admission}}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: ingress-nginx-admission-create, namespace: ingress-nginx}
spec:
  template:
    metadata: {name: ingress-nginx-admission-create}
    spec:
      containers:
        - name: create
          image: registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.9@sha256:01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd
          args: [create, "--host=ingress-nginx-controller-admission,ingress-nginx-controller-admission.$(POD_NAMESPACE).svc",
                 "--namespace=$(POD_NAMESPACE)", --secret-name=ingress-nginx-admission]
          env: [{name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}]
      nodeSelector: {kubernetes.io/os: linux}
      restartPolicy: OnFailure
      serviceAccountName: ingress-nginx-admission
  ttlSecondsAfterFinished: 0
---
apiVersion: batch/v1
kind: Job
metadata: {name: ingress-nginx-admission-patch, namespace: ingress-nginx}
spec:
  template:
    metadata: {name: ingress-nginx-admission-patch}
    spec:
      containers:
        - name: patch
          image: registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.6.9@sha256:01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd
          args: [patch, --webhook-name=ingress-nginx-admission, "--namespace=$(POD_NAMESPACE)", --patch-mutating=false,
                 --secret-name=ingress-nginx-admission, --patch-failure-policy=Fail]
          env: [{name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}]
      nodeSelector: {kubernetes.io/os: linux}
      restartPolicy: OnFailure
      serviceAccountName: ingress-nginx-admission
  ttlSecondsAfterFinished: 0
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx, labels: {app.kubernetes.io/component: controller, app.kubernetes.io/name: ingress-nginx}}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: ingress-nginx-admission}
webhooks:
  - admissionReviewVersions: [v1]
    clientConfig: {service: {name: ingress-nginx-controller-admission, namespace: ingress-nginx, path: /networking/v1/ingresses, port: 443}}
    failurePolicy: Fail
    matchPolicy: Equivalent
    name: validate.nginx.ingress.kubernetes.io
    rules: [{apiGroups: [networking.k8s.io], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [ingresses]}]
    sideEffects: None
"#;

/// The sha256 of `bytes`, as `sha256sum` prints it.
pub fn sha256(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// An HTTP/1.1 server on 127.0.0.1 answering every GET with `body`, counting
/// requests (a thread of its own: the kdeck commands run blocking). It stops with
/// the test process.
pub struct ManifestServer {
    pub url: String,
    requests: Arc<AtomicUsize>,
}

impl ManifestServer {
    pub fn start(body: &str) -> ManifestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/kubernetes/ingress-nginx/deploy.yaml", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let (counted, body) = (requests.clone(), body.to_string());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut seen = Vec::new();
                let mut chunk = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&chunk[..n]),
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        ManifestServer { url, requests }
    }

    /// How many requests it answered.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
