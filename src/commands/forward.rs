//! `kamal-dev forward NAME [PORT...]`: forward ports on this machine's 127.0.0.1 to a
//! workspace's published ports over the pooled SSH connection, until Ctrl-C. `PORT` is a
//! container port (forwarded from the same local port) or `LOCAL:CONTAINER`.

use clap::Args as ClapArgs;
use futures::future::join_all;

use super::Context;
use crate::deploy::access::lookup;
use crate::deploy::fleet::Fleet;
use crate::error::{Error, ExitStatus, Message};
use crate::remote::{Executor, Forwarding};
use crate::state::PortMapping;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace whose ports to forward
    pub name: String,

    /// Container ports to forward (`3000`, or `LOCAL:CONTAINER` such as `13000:3000`);
    /// default: every port the workspace publishes (its forwardPorts)
    #[arg(value_name = "PORT", value_parser = parse_port)]
    pub ports: Vec<(u16, u16)>,
}

/// `3000` -> (3000, 3000); `13000:3000` -> (13000, 3000).
fn parse_port(text: &str) -> Result<(u16, u16), String> {
    let number = |s: &str| -> Result<u16, String> {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{s:?} is not a port number (1-65535)"))
    };
    match text.split_once(':') {
        Some((local, container)) => Ok((number(local)?, number(container)?)),
        None => number(text).map(|p| (p, p)),
    }
}

/// Pair each requested (local, container) port with the machine port publishing it.
pub fn plan(
    requested: &[(u16, u16)],
    published: &[PortMapping],
) -> Result<Vec<(u16, PortMapping)>, String> {
    if requested.is_empty() {
        return Ok(published.iter().map(|m| (m.container, *m)).collect());
    }
    requested
        .iter()
        .map(|(local, container)| {
            published
                .iter()
                .find(|m| m.container == *container)
                .map(|m| (*local, *m))
                .ok_or_else(|| format!("container port {container} is not published"))
        })
        .collect()
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let settings = ctx.settings()?;
    let fleet = Fleet::open(settings, "forward")?;
    let result = forward(ctx, &fleet, &args).await;
    fleet.close().await;
    result
}

async fn forward(ctx: &Context, fleet: &Fleet, args: &Args) -> Result<ExitStatus, Error> {
    let state = fleet.read_state().await?;
    let workspace = lookup(&state, &args.name)?;
    let published = &workspace.ports;
    let pairs = plan(&args.ports, published).map_err(|why| {
        let list: Vec<String> = published.iter().map(|m| m.container.to_string()).collect();
        Message::new(format!("{}: {why}", args.name), ExitStatus::Usage).with_hint(
            if list.is_empty() {
                "the workspace publishes no ports: list them in forwardPorts in devcontainer.json and deploy again".to_string()
            } else {
                format!("published container ports: {}", list.join(", "))
            },
        )
    })?;
    if pairs.is_empty() {
        return Err(Message::new(
            format!("{} publishes no ports", args.name),
            ExitStatus::Usage,
        )
        .with_hint("list them in forwardPorts in devcontainer.json and deploy again")
        .into());
    }
    if fleet.is_local() {
        ctx.printer.info(format!(
            "{} runs on this machine's Docker: its ports are already on 127.0.0.1, nothing to forward.",
            args.name
        ));
        for (_, mapping) in &pairs {
            ctx.printer.data(format!(
                "127.0.0.1:{} -> container port {}",
                mapping.host, mapping.container
            ));
        }
        return Ok(ExitStatus::Success);
    }
    let machine = workspace
        .machine
        .clone()
        .ok_or_else(|| Error::failed(format!("workspace {} has no machine recorded", args.name)))?;
    let Executor::Ssh(connection) = fleet.executor(&machine).await? else {
        return Err(Error::failed("expected an SSH machine"));
    };
    // Bind every port first, so a taken one stops everything before anything is announced.
    let mut forwards = Vec::new();
    for (local, mapping) in &pairs {
        let forwarding = Forwarding::bind(&connection, *local, "127.0.0.1", mapping.host).await?;
        forwards.push((forwarding, *mapping));
    }
    for (forwarding, mapping) in &forwards {
        ctx.printer.info(format!(
            "Forwarding 127.0.0.1:{} -> {} port {} (machine port {})",
            forwarding.local_port(),
            args.name,
            mapping.container,
            mapping.host
        ));
    }
    ctx.printer.info("Press Ctrl-C to stop.");
    let printer = ctx.printer;
    let serving = join_all(
        forwards
            .into_iter()
            .map(|(forwarding, _)| forwarding.serve(move |problem| printer.warn(problem))),
    );
    tokio::select! {
        _ = serving => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ports() {
        assert_eq!(parse_port("3000"), Ok((3000, 3000)));
        assert_eq!(parse_port("13000:3000"), Ok((13000, 3000)));
        assert!(parse_port("0").is_err());
        assert!(parse_port("x:1").is_err());
        assert!(parse_port("70000").is_err());
    }

    #[test]
    fn plans_forwards_from_published_ports() {
        let published = vec![
            PortMapping {
                host: 32768,
                container: 3000,
            },
            PortMapping {
                host: 32769,
                container: 5432,
            },
        ];
        let all = plan(&[], &published).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], (3000, published[0]));
        assert_eq!(
            plan(&[(15432, 5432)], &published).unwrap(),
            vec![(15432, published[1])]
        );
        assert!(plan(&[(80, 80)], &published).is_err());
    }
}
