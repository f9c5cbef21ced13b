"""Staff accounts: the first administrator, and account creation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, select

from helpdesk.intake import ensure_queue
from helpdesk.models import Role, User, UserQueue
from helpdesk.passwords import generate_password, hash_password
from helpdesk.store import Store


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    email: str
    # Set only when this call generated the password: it is shown once.
    generated_password: str | None


def ensure_admin(store: Store, email: str, password: str | None) -> FirstAdmin | None:
    """Create the first administrator when there is none; None when one exists."""

    def work(session: Session) -> FirstAdmin | None:
        if session.exec(select(User.id).where(User.role == Role.ADMIN)).first() is not None:
            return None
        chosen = password or generate_password()
        session.add(User(email=email.lower(), name="Administrator", role=Role.ADMIN,
                         password_hash=hash_password(chosen)))
        return FirstAdmin(email=email.lower(), generated_password=None if password else chosen)

    return store.write_retrying(work)


def create_user(session: Session, *, email: str, name: str, role: Role, password: str,
                queues: Iterable[str] = (), capacity: int = 10) -> User:
    user = User(email=email.strip().lower(), name=name, role=role,
                password_hash=hash_password(password), capacity=capacity)
    session.add(user)
    session.flush()
    assert user.id is not None
    for queue in queues:
        session.add(UserQueue(user_id=user.id, queue_id=ensure_queue(session, queue)))
    return user
