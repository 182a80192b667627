//! What a container's securityContext (over the pod's) asks of a process: its
//! user, groups, capabilities, whether it may gain privileges and whether its
//! root filesystem is read-only. Plain data, computed from the pod before anything
//! starts; [`super::confine`] applies it in the child.
//!
//! Defaults differ from a container runtime's on one point: a container that sets
//! no `runAsUser` runs as 65534 (`nobody`), not as the image's user (the sandbox
//! has no images, and root is never a default). Without `runAsGroup` the group is
//! the user's id when `runAsUser` is set (a user-private group), else 65534.

use serde_json::Value;

/// The user of a container that names none: `nobody`.
pub const DEFAULT_ID: u32 = 65534;

/// Capability names by number (`CAP_` left off), as in `linux/capability.h`.
const CAPABILITIES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// What containerd and CRI-O give a container that asks for nothing else.
const RUNTIME_DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// The settings a process of the container runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct Security {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: `supplementalGroups` and `fsGroup`.
    pub groups: Vec<u32>,
    /// The pod's `fsGroup`: group owner of its writable volumes.
    pub fs_group: Option<u32>,
    pub read_only_root: bool,
    /// `allowPrivilegeEscalation: false`: no_new_privs.
    pub no_new_privs: bool,
    /// Capabilities kept in the bounding set, as a bit mask by number.
    pub capabilities: u64,
}

fn id(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// The capability number of `name` (`NET_ADMIN` or `CAP_NET_ADMIN`, any case).
pub fn capability(name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    CAPABILITIES.iter().position(|c| *c == bare).and_then(|i| u32::try_from(i).ok())
}

fn mask(names: &[&str]) -> u64 {
    names.iter().filter_map(|n| capability(n)).fold(0, |m, c| m | (1u64 << c))
}

/// The kubelet's `FsUserFrom`: the `runAsUser` every init container and container
/// of the pod runs as (its own over the pod's), when they all name the same one.
/// It owns the pod's projected token files.
pub fn fs_user(pod: &Value) -> Option<u32> {
    let pod_ctx = &pod["spec"]["securityContext"];
    let mut users = ["initContainers", "containers"]
        .iter()
        .flat_map(|list| pod["spec"][*list].as_array().into_iter().flatten())
        .map(|c| id(&c["securityContext"]["runAsUser"]).or_else(|| id(&pod_ctx["runAsUser"])));
    let first = users.next()??;
    users.all(|u| u == Some(first)).then_some(first)
}

impl Security {
    /// The container's settings, its own securityContext over the pod's.
    pub fn of(pod: &Value, container: &Value) -> Security {
        let pod_ctx = &pod["spec"]["securityContext"];
        let ctx = &container["securityContext"];
        let field = |name: &str| id(&ctx[name]).or_else(|| id(&pod_ctx[name]));
        let user = field("runAsUser");
        let uid = user.unwrap_or(DEFAULT_ID);
        let gid = field("runAsGroup").or(user).unwrap_or(DEFAULT_ID);
        let fs_group = id(&pod_ctx["fsGroup"]);
        let mut groups: Vec<u32> = pod_ctx["supplementalGroups"].as_array().into_iter().flatten().filter_map(id).collect();
        groups.extend(fs_group);
        groups.sort_unstable();
        groups.dedup();
        let privileged = ctx["privileged"] == true;
        let mut capabilities = if privileged { u64::MAX >> (64 - CAPABILITIES.len()) } else { mask(&RUNTIME_DEFAULT) };
        let names =
            |list: &str| -> Vec<String> { ctx["capabilities"][list].as_array().into_iter().flatten().filter_map(|c| c.as_str().map(str::to_string)).collect() };
        for name in names("drop") {
            if name.eq_ignore_ascii_case("ALL") {
                capabilities = 0;
            } else if let Some(c) = capability(&name) {
                capabilities &= !(1u64 << c);
            }
        }
        for name in names("add") {
            if name.eq_ignore_ascii_case("ALL") {
                capabilities = u64::MAX >> (64 - CAPABILITIES.len());
            } else if let Some(c) = capability(&name) {
                capabilities |= 1u64 << c;
            }
        }
        Security {
            uid,
            gid,
            groups,
            fs_group,
            read_only_root: ctx["readOnlyRootFilesystem"] == true,
            no_new_privs: ctx["allowPrivilegeEscalation"] == false,
            capabilities,
        }
    }

    /// The home directory the runtime gives the user (HOME, and its passwd entry).
    pub fn home(&self) -> &'static str {
        if self.uid == 0 { "/root" } else { "/" }
    }

    /// `/etc/passwd` of the pod: root, nobody and the pod's user.
    pub fn passwd(&self) -> String {
        let mut text = String::from("root:x:0:0:root:/root:/bin/sh\n");
        if self.uid != 0 && self.uid != DEFAULT_ID {
            text.push_str(&format!("user:x:{}:{}:pod user:{}:/bin/sh\n", self.uid, self.gid, self.home()));
        }
        text.push_str(&format!("nobody:x:{DEFAULT_ID}:{DEFAULT_ID}:nobody:/:/usr/sbin/nologin\n"));
        text
    }

    /// `/etc/group` of the pod: root, nogroup, the user's group and its other groups.
    pub fn group(&self) -> String {
        let name = |gid: u32| match gid {
            0 => "root".to_string(),
            DEFAULT_ID => "nogroup".to_string(),
            g if g == self.gid => "user".to_string(),
            g => format!("group{g}"),
        };
        let mut gids: Vec<u32> = vec![0, self.gid];
        gids.extend(&self.groups);
        gids.push(DEFAULT_ID);
        let mut seen = Vec::new();
        let mut text = String::new();
        for gid in gids {
            if seen.contains(&gid) {
                continue;
            }
            seen.push(gid);
            let members = if gid != self.gid && self.groups.contains(&gid) && self.uid != 0 { "user" } else { "" };
            text.push_str(&format!("{}:x:{gid}:{members}\n", name(gid)));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_container_context_wins_over_the_pods_and_nothing_defaults_to_root() {
        let none = Security::of(&json!({}), &json!({}));
        assert_eq!((none.uid, none.gid, none.fs_group, none.read_only_root, none.no_new_privs), (65534, 65534, None, false, false));
        assert_eq!(none.capabilities, mask(&RUNTIME_DEFAULT));
        let pod = json!({"spec": {"securityContext": {"runAsUser": 1000, "fsGroup": 2000, "supplementalGroups": [3000, 2000]}}});
        let s = Security::of(&pod, &json!({"securityContext": {"runAsUser": 1001}}));
        assert_eq!((s.uid, s.gid, s.groups.clone(), s.fs_group), (1001, 1001, vec![2000, 3000], Some(2000)));
        let s = Security::of(&pod, &json!({"securityContext": {"runAsGroup": 5}}));
        assert_eq!((s.uid, s.gid), (1000, 5));
        assert!(s.passwd().contains("user:x:1000:5:pod user:/:/bin/sh"), "{}", s.passwd());
        assert!(s.group().contains("group2000:x:2000:user\n") && s.group().starts_with("root:x:0:\n"), "{}", s.group());
    }

    #[test]
    fn capabilities_follow_drop_and_add() {
        let ctx = |c: Value| Security::of(&json!({}), &json!({"securityContext": c}));
        let restricted = ctx(json!({"capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true}));
        assert_eq!((restricted.capabilities, restricted.no_new_privs, restricted.read_only_root), (0, true, true));
        let some = ctx(json!({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "cap_sys_time"]}}));
        assert_eq!(some.capabilities, (1 << 10) | (1 << 25));
        let fewer = ctx(json!({"capabilities": {"drop": ["CAP_NET_RAW"]}}));
        assert_eq!(fewer.capabilities, mask(&RUNTIME_DEFAULT) & !(1 << 13));
        assert_eq!(ctx(json!({"privileged": true})).capabilities.count_ones(), 41);
        assert_eq!(capability("sys_admin"), Some(21));
        assert_eq!(capability("NOPE"), None);
    }
}
