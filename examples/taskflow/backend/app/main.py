"""TaskFlow's API: tasks kept in memory, and the probes Kubernetes asks.

Configuration comes from the environment only (the chart's ConfigMap and
Secret): nothing is baked into the image, and no secret is ever logged.
"""

import logging
import os
from contextlib import asynccontextmanager
from itertools import count

from fastapi import FastAPI, HTTPException, Response
from pydantic import BaseModel

ENVIRONMENT = os.environ.get("ENVIRONMENT", "development")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "info").upper()
DATABASE_URL = os.environ.get("DATABASE_URL", "")

logging.basicConfig(level=LOG_LEVEL, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("taskflow")


class TaskIn(BaseModel):
    title: str
    done: bool = False


class Task(TaskIn):
    id: int


_ids = count(1)
_tasks: dict[int, Task] = {}


def database_host(url: str) -> str:
    """The host part of a database URL, without the credentials: safe to log."""
    rest = url.split("://", 1)[-1]
    return rest.rsplit("@", 1)[-1].split("/", 1)[0] or "(none)"


@asynccontextmanager
async def lifespan(_app: FastAPI):
    # The key's presence is logged, never its value; the database without its credentials.
    log.info(
        "starting in %s; database at %s; chat %s",
        ENVIRONMENT,
        database_host(DATABASE_URL),
        "enabled" if os.environ.get("OPENAI_API_KEY") else "disabled (OPENAI_API_KEY not set)",
    )
    yield


app = FastAPI(title="TaskFlow API", lifespan=lifespan)


@app.get("/health")
def health() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@app.get("/ready")
def ready(response: Response) -> dict:
    """Readiness: configured to reach its database."""
    if not DATABASE_URL:
        response.status_code = 503
        return {"status": "not ready", "reason": "DATABASE_URL is not set"}
    return {"status": "ready", "environment": ENVIRONMENT}


@app.get("/api/tasks")
def list_tasks() -> list[Task]:
    return list(_tasks.values())


@app.post("/api/tasks", status_code=201)
def create_task(task: TaskIn) -> Task:
    created = Task(id=next(_ids), **task.model_dump())
    _tasks[created.id] = created
    return created


@app.patch("/api/tasks/{task_id}")
def complete_task(task_id: int) -> Task:
    if task_id not in _tasks:
        raise HTTPException(status_code=404, detail="no such task")
    _tasks[task_id].done = True
    return _tasks[task_id]


@app.delete("/api/tasks/{task_id}", status_code=204)
def delete_task(task_id: int) -> None:
    if _tasks.pop(task_id, None) is None:
        raise HTTPException(status_code=404, detail="no such task")
