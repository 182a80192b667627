"""Drives `kdeck mcp` with the official Python MCP SDK (`mcp`), as an assistant
would: over stdio (the SDK starts kdeck) or Streamable HTTP (with the bearer
token), with an elicitation handler that answers each plan as the caller says.

    python-k8s mcp_client.py stdio KDECK_BIN ARGS...       < STEPS
    python-k8s mcp_client.py http URL TOKEN                < STEPS

STEPS is a JSON list; each step is one of
    {"do": "list_tools"}
    {"do": "list_resources"}
    {"do": "read_resource", "uri": "kdeck://diagnosis/demo"}
    {"do": "call", "tool": "scale", "arguments": {...}, "confirm": "accept" | "decline" | "none"}
    {"do": "no_elicitation_call", ...}  (the same, from a client that declares no elicitation)

It prints one JSON document: a list with, per step, the tool names, or the text
of the result with its isError flag, and the elicitation messages the server
sent. The test that runs it checks them and the cluster.
"""

import json
import sys

import anyio
import mcp.types as types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def text_of(result):
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


async def run_steps(connect, steps):
    out = []
    answer = {"confirm": "none"}
    asked = []

    async def on_elicit(context, params):
        asked.append({"message": params.message, "schema": params.requested_schema})
        if answer["confirm"] == "accept":
            return types.ElicitResult(action="accept", content={"apply": True})
        if answer["confirm"] == "decline":
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="cancel")

    async def session_steps(read, write, with_elicitation, steps):
        callback = on_elicit if with_elicitation else None
        async with ClientSession(read, write, elicitation_callback=callback) as session:
            await session.initialize()
            for step in steps:
                asked.clear()
                if step["do"] == "list_tools":
                    tools = await session.list_tools()
                    out.append({"tools": [t.name for t in tools.tools],
                                "readOnly": {t.name: bool(t.annotations and t.annotations.read_only_hint) for t in tools.tools}})
                elif step["do"] == "list_resources":
                    resources = await session.list_resources()
                    out.append({"resources": [str(r.uri) for r in resources.resources]})
                elif step["do"] == "read_resource":
                    result = await session.read_resource(step["uri"])
                    out.append({"text": "\n".join(c.text for c in result.contents if hasattr(c, "text"))})
                else:
                    answer["confirm"] = step.get("confirm", "none")
                    try:
                        result = await session.call_tool(step["tool"], step.get("arguments", {}))
                        out.append({"text": text_of(result), "isError": bool(result.is_error), "elicited": list(asked)})
                    except Exception as error:  # a protocol error: the step says so
                        out.append({"error": str(error), "elicited": list(asked)})

    plain = [s for s in steps if s["do"] != "no_elicitation_call"]
    bare = [dict(s, do="call") for s in steps if s["do"] == "no_elicitation_call"]
    for with_elicitation, group in ((True, plain), (False, bare)):
        if not group:
            continue
        async with connect() as streams:
            await session_steps(streams[0], streams[1], with_elicitation, group)
    return out


def main():
    mode = sys.argv[1]
    steps = json.load(sys.stdin)
    if mode == "stdio":
        params = StdioServerParameters(command=sys.argv[2], args=sys.argv[3:], env=dict(__import__("os").environ))
        connect = lambda: stdio_client(params)  # noqa: E731
    else:
        url, token = sys.argv[2], sys.argv[3]
        connect = lambda: streamable_http_client(url, http_client=create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}))  # noqa: E731
    print(json.dumps(anyio.run(run_steps, connect, steps), indent=1))


if __name__ == "__main__":
    main()
