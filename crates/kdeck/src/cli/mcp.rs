//! `kdeck mcp`: kdeck's tools for any AI assistant, as an MCP server (see `ai::mcp`).

use clap::{Args, ValueEnum};

use crate::ai::mcp::{self, Server};
use crate::ai::tools::Tools;
use crate::cluster::ClusterArgs;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// JSON-RPC on stdin/stdout: the assistant starts kdeck mcp itself.
    #[default]
    Stdio,
    /// MCP's Streamable HTTP at http://ADDR/mcp, loopback only, with a bearer token.
    Http,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    #[arg(long, value_enum, default_value_t)]
    transport: Transport,
    /// With --transport http: where to listen (loopback only; port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8765")]
    listen: String,
    /// Offer the change tools: each plans, and applies only after the user confirms the plan through the client (MCP elicitation).
    #[arg(long)]
    allow_changes: bool,
}

impl McpArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        let namespace = cluster.one_namespace("kdeck mcp")?;
        let listen: std::net::SocketAddr =
            self.listen.parse().map_err(|_| Error::usage(format!("invalid --listen {:?}", self.listen)).hint("--listen 127.0.0.1:PORT (loopback only)"))?;
        if self.transport == Transport::Http && !listen.ip().is_loopback() {
            return Err(Error::usage(format!("--listen {listen} is not a loopback address")).hint("kdeck mcp listens on 127.0.0.1 or [::1] only"));
        }
        let cluster = cluster.connect().await?;
        let context = cluster.context.clone();
        let server = Server::new(Tools::new(cluster, namespace), self.allow_changes);
        let mode = if self.allow_changes { "changes planned, applied after the user confirms" } else { "read-only" };
        match self.transport {
            Transport::Stdio => {
                eprintln!("kdeck mcp: serving MCP on stdio (context {context}, {mode})");
                mcp::serve_stdio(server).await
            }
            Transport::Http => {
                let (token, from_env) = match std::env::var("KDECK_MCP_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
                    Some(token) if token.trim().len() >= 16 => (token.trim().to_string(), true),
                    Some(_) => {
                        return Err(Error::usage("KDECK_MCP_TOKEN is shorter than 16 characters").hint("use a long random token, or unset it to have one made"));
                    }
                    None => (mcp::new_token(), false),
                };
                let shown = token.clone();
                let ready = move |address: std::net::SocketAddr| {
                    eprintln!("kdeck mcp: serving MCP (Streamable HTTP) at http://{address}/mcp (context {context}, {mode})");
                    if from_env {
                        eprintln!("kdeck mcp: bearer token: the one in KDECK_MCP_TOKEN");
                    } else {
                        eprintln!("kdeck mcp: bearer token: {shown}");
                    }
                };
                tokio::select! {
                    served = mcp::serve_http(server, listen, token, ready) => served,
                    _ = tokio::signal::ctrl_c() => Ok(()),
                }
            }
        }
    }
}
