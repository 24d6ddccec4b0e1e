"""Projections of ConsortiumRegistry: roles, enterprise profiles, suspensions, devices, auditor
assignments and governance proposals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, update

from chain.events import DecodedEvent
from chain.registry import ROLES
from readmodel import models as m
from readmodel.bulk import upsert
from readmodel.indexer.projection import Handlers, Projection

#: Role hash (0x hex) → role name as the read model stores it (``DEFAULT_ADMIN_ROLE``: ``ADMIN``).
ROLE_NAMES = {"0x" + role.hex(): name for name, role in ROLES.items()} | {"0x" + "00" * 32: "ADMIN"}


def _role_name(e: DecodedEvent) -> str:
    role: str = e.args["role"]
    return ROLE_NAMES.get(role, role[:32])


def _role_granted(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    upsert(
        conn,
        m.Role,
        [{"account": e.args["account"], "role": _role_name(e), "granted_block": e.block_number}],
        ("account", "role"),
    )
    upsert(
        conn,
        m.Participant,
        [{"address": e.args["account"], "suspended": False, "updated_block": e.block_number}],
        ("address",),
    )


def _role_revoked(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    role = _role_name(e)
    conn.execute(delete(m.Role).where(m.Role.account == e.args["account"], m.Role.role == role))


def _profile_values(p: Projection, e: DecodedEvent) -> dict[str, Any]:
    a = e.args
    assert p.profiles is not None
    p.profiles[a["account"]] = (int(a["regionCode"]), a["industryCode"])
    return {
        "name": a["name"],
        "region_code": a["regionCode"],
        "industry_code": a["industryCode"],
        "latitude_e6": a["latitude"],
        "longitude_e6": a["longitude"],
        "updated_block": e.block_number,
    }


def _enterprise_registered(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    values = _profile_values(p, e) | {
        "credit_code": e.args["creditCode"],
        "registered_time": e.block_time,
    }
    row = {"address": e.args["account"], "suspended": False, **values}
    upsert(conn, m.Participant, [row], ("address",), replace=tuple(values))


def _enterprise_updated(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.Participant)
        .where(m.Participant.address == e.args["account"])
        .values(**_profile_values(p, e))
    )


def _suspended(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.Participant)
        .where(m.Participant.address == e.args["account"])
        .values(suspended=True, suspension_reason=e.args["reasonCode"], updated_block=e.block_number)
    )


def _reinstated(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.Participant)
        .where(m.Participant.address == e.args["account"])
        .values(suspended=False, suspension_reason=None, updated_block=e.block_number)
    )


def _auditor_assigned(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    row = {
        "auditor": e.args["auditor"],
        "enterprise": e.args["enterprise"],
        "assigned_block": e.block_number,
    }
    upsert(conn, m.AuditorAssignment, [row], ("auditor", "enterprise"), replace=("assigned_block",))


def _auditor_unassigned(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = m.AuditorAssignment
    conn.execute(delete(a).where(a.auditor == e.args["auditor"], a.enterprise == e.args["enterprise"]))


def _device_bound(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    row = {
        "address": e.args["device"],
        "enterprise": e.args["enterprise"],
        "mn": e.args["mn"],
        "bound": True,
        "updated_block": e.block_number,
    }
    upsert(
        conn,
        m.Device,
        [row],
        ("address",),
        replace=("enterprise", "mn", "bound", "updated_block"),
    )


def _device_unbound(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.Device)
        .where(m.Device.address == e.args["device"])
        .values(bound=False, updated_block=e.block_number)
    )


def _proposal_created(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    conn.execute(
        insert(m.Proposal).values(
            proposal_id=a["proposalId"],
            proposer=a["proposer"],
            target=a["target"],
            deadline=a["deadline"],
            data=a["data"],
            description=a["description"],
            approvals=0,
            executed=False,
            created_time=e.block_time,
        )
    )


def _proposal_approved(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.Proposal)
        .where(m.Proposal.proposal_id == e.args["proposalId"])
        .values(approvals=e.args["approvals"])
    )


def _proposal_executed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    conn.execute(
        update(m.Proposal).where(m.Proposal.proposal_id == e.args["proposalId"]).values(executed=True)
    )


HANDLERS: Handlers = {
    ("ConsortiumRegistry", "RoleGranted"): _role_granted,
    ("ConsortiumRegistry", "RoleRevoked"): _role_revoked,
    ("ConsortiumRegistry", "EnterpriseRegistered"): _enterprise_registered,
    ("ConsortiumRegistry", "EnterpriseProfileUpdated"): _enterprise_updated,
    ("ConsortiumRegistry", "ParticipantSuspended"): _suspended,
    ("ConsortiumRegistry", "ParticipantReinstated"): _reinstated,
    ("ConsortiumRegistry", "DeviceBound"): _device_bound,
    ("ConsortiumRegistry", "DeviceUnbound"): _device_unbound,
    ("ConsortiumRegistry", "AuditorAssigned"): _auditor_assigned,
    ("ConsortiumRegistry", "AuditorUnassigned"): _auditor_unassigned,
    ("ConsortiumRegistry", "ProposalCreated"): _proposal_created,
    ("ConsortiumRegistry", "ProposalApproved"): _proposal_approved,
    ("ConsortiumRegistry", "ProposalExecuted"): _proposal_executed,
}
