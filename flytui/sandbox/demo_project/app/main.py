"""FastAPI entry point: ``uvicorn app.main:app --host 0.0.0.0 --port 8080``."""

import os

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import engine, get_session
from app.models import Todo, User

app = FastAPI(title="fly-demo", version="0.1.0")


class UserIn(BaseModel):
    email: str
    full_name: str | None = None


class UserOut(UserIn):
    id: int


class TodoIn(BaseModel):
    title: str
    owner_id: int
    done: bool = False


class TodoOut(TodoIn):
    id: int


def _db_status() -> str:
    """``ok`` when ``SELECT 1`` works, else the error's first line."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except SQLAlchemyError as exc:  # shown to the user, never raised
        return f"error: {str(exc).splitlines()[0]}"


@app.get("/")
def hello() -> dict:
    """Hello plus database status."""
    return {
        "message": "Hello from Fly.io",
        "app": os.environ.get("FLY_APP_NAME", "local"),
        "region": os.environ.get("FLY_REGION", "local"),
        "database": _db_status(),
    }


@app.get("/health")
def health() -> dict:
    """Health check used by [[http_service.checks]] in fly.toml."""
    return {"status": "ok"}


@app.get("/users", response_model=list[UserOut])
def list_users(session: Session = Depends(get_session)) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


@app.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserIn, session: Session = Depends(get_session)) -> User:
    user = User(email=body.email, full_name=body.full_name)
    session.add(user)
    session.commit()
    return user


@app.get("/todos", response_model=list[TodoOut])
def list_todos(session: Session = Depends(get_session)) -> list[Todo]:
    return list(session.scalars(select(Todo).order_by(Todo.id)))


@app.post("/todos", response_model=TodoOut, status_code=201)
def create_todo(body: TodoIn, session: Session = Depends(get_session)) -> Todo:
    if session.get(User, body.owner_id) is None:
        raise HTTPException(status_code=404, detail="owner not found")
    todo = Todo(title=body.title, owner_id=body.owner_id, done=body.done)
    session.add(todo)
    session.commit()
    return todo


@app.patch("/todos/{todo_id}", response_model=TodoOut)
def toggle_todo(todo_id: int, session: Session = Depends(get_session)) -> Todo:
    todo = session.get(Todo, todo_id)
    if todo is None:
        raise HTTPException(status_code=404, detail="todo not found")
    todo.done = not todo.done
    session.commit()
    return todo


@app.delete("/todos/{todo_id}", status_code=204)
def delete_todo(todo_id: int, session: Session = Depends(get_session)) -> None:
    todo = session.get(Todo, todo_id)
    if todo is None:
        raise HTTPException(status_code=404, detail="todo not found")
    session.delete(todo)
    session.commit()
