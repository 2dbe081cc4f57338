//! Who to log in as, where: the (user, host, port) of one machine plus the name it is known
//! by in messages. Pure data.

use std::fmt;

/// One SSH destination. `name` is the workspace or machine name users know (`my-app-1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshTarget {
    pub name: Option<String>,
    pub host: String,
    pub user: String,
    pub port: u16,
}

impl SshTarget {
    /// `root@host:22`, the defaults of `ssh:` in config/dev.yml.
    pub fn new(host: impl Into<String>) -> SshTarget {
        SshTarget {
            name: None,
            host: host.into(),
            user: "root".to_string(),
            port: 22,
        }
    }

    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> SshTarget {
        self.name = Some(name.into());
        self
    }

    #[must_use]
    pub fn with_user(mut self, user: impl Into<String>) -> SshTarget {
        self.user = user.into();
        self
    }

    #[must_use]
    pub fn with_port(mut self, port: u16) -> SshTarget {
        self.port = port;
        self
    }

    /// `my-app-1 (94.2.3.1)`, or just the host when there is no name.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.host),
            None => self.host.clone(),
        }
    }

    /// `root@94.2.3.1:22` (IPv6 hosts in brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("{}@[{}]:{}", self.user, self.host, self.port)
        } else {
            format!("{}@{}:{}", self.user, self.host, self.port)
        }
    }
}

/// `my-app-1 (root@94.2.3.1:22)`.
impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} ({})", self.address()),
            None => f.write_str(&self.address()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let t = SshTarget::new("94.2.3.1").with_name("my-app-1");
        assert_eq!(t.label(), "my-app-1 (94.2.3.1)");
        assert_eq!(t.to_string(), "my-app-1 (root@94.2.3.1:22)");
        let t = SshTarget::new("::1").with_user("dev").with_port(2222);
        assert_eq!(t.to_string(), "dev@[::1]:2222");
    }
}
