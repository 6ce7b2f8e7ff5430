//! Network namespaces for partition tests: one namespace per zone, joined
//! by veth pairs to a bridge in the host namespace, so that taking one veth
//! down cuts that zone off (connections stall, as a real partition does)
//! and bringing it up heals it. Created and removed by the test, as root;
//! `Zones::create` says why not when it cannot (not root, no `ip`, no
//! CAP_NET_ADMIN), and the test skips with that message.

use std::process::Command;

pub struct Zones {
    tag: String,
    count: usize,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Zones {
    /// `count` namespaces, zone `i` at 10.77.0.(i+1)/24 inside its own.
    pub fn create(count: usize) -> Result<Zones, String> {
        let tag = format!("{}", std::process::id() % 100_000);
        let z = Zones { tag, count: 0 };
        ip(&["link", "add", &z.bridge(), "type", "bridge"])?;
        let mut z = z;
        ip(&["link", "set", &z.bridge(), "up"])?;
        for i in 0..count {
            z.count = i + 1;
            let (ns, veth) = (z.ns(i), z.veth(i));
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
            ip(&["link", "set", &veth, "master", &z.bridge(), "up"])?;
            let addr = format!("{}/24", z.addr(i));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(z)
    }

    fn bridge(&self) -> String {
        format!("snbr{}", self.tag)
    }

    fn veth(&self, i: usize) -> String {
        format!("snv{}z{i}", self.tag)
    }

    /// The namespace of zone `i`.
    pub fn ns(&self, i: usize) -> String {
        format!("shardnet-{}-z{i}", self.tag)
    }

    /// Zone `i`'s address (inside its namespace).
    pub fn addr(&self, i: usize) -> String {
        format!("10.77.0.{}", i + 1)
    }

    /// Cuts zone `i` off from the others.
    pub fn cut(&self, i: usize) {
        ip(&["link", "set", &self.veth(i), "down"]).expect("cut a zone off");
    }

    /// Joins zone `i` again.
    pub fn heal(&self, i: usize) {
        ip(&["link", "set", &self.veth(i), "up"]).expect("heal a partition");
    }
}

impl Drop for Zones {
    fn drop(&mut self) {
        for i in 0..self.count {
            let _ = ip(&["netns", "del", &self.ns(i)]);
            let _ = ip(&["link", "del", &self.veth(i)]);
        }
        let _ = ip(&["link", "del", &self.bridge()]);
    }
}
