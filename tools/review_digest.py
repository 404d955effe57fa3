#!/usr/bin/env python3
"""Reference recompute of a review campaign's item set and digest from an export.

Written from docs/review-digest.md, standard library only: it folds the site's
records of a `grantledger log export` up to the campaign's launch position, applies
the scope recorded in the campaign's CampaignCreated, builds the canonical item
lines, sorts them bytewise and hashes them, then compares the count and the
digest with the campaign's CampaignLaunched.

    grantledger log export -o export.jsonl
    python3 tools/verify_export.py export.jsonl          # the chain first
    python3 tools/review_digest.py export.jsonl c1       # then the campaign

Exit status: 0 when count and digest match, 1 when they differ, 2 on bad input.
"""
import argparse, hashlib, json, sys


def glob(pattern, name):
    """`*` any run, `?` one character, otherwise equal ignoring case."""
    p, n = pattern.lower(), name.lower()
    pi = ni = 0
    star = None
    while ni < len(n):
        if pi < len(p) and (p[pi] == "?" or p[pi] == n[ni]):
            pi += 1
            ni += 1
        elif pi < len(p) and p[pi] == "*":
            star = (pi, ni)
            pi += 1
        elif star is not None:
            pi = star[0] + 1
            ni = star[1] + 1
            star = (star[0], star[1] + 1)
        else:
            return False
    while pi < len(p) and p[pi] == "*":
        pi += 1
    return pi == len(p)


def any_glob(patterns, name):
    return any(glob(p, name) for p in patterns)


class Site:
    def __init__(self):
        self.users = {}          # account id -> account type
        self.groups = {}         # group id -> name
        self.members = {}        # group id -> set of account ids
        self.projects = {}       # project id -> key
        self.roles = {}          # (project id, role id) -> name
        self.actors = {}         # (project id, role id) -> set of ("User"|"Group", id)
        self.products = {}       # product key -> set of group ids
        self.changed = {}        # canonical line -> position of its last GrantAdded/GrantRemoved

    def grant(self, g, present, position):
        (kind, who), = g["principal"].items()
        (ent, body), = g["entitlement"].items()
        if ent == "GroupMembership" and kind == "User":
            s = self.members.setdefault(body["group"], set())
            (s.add if present else s.discard)(who)
            if not s:
                del self.members[body["group"]]
            self.changed[line_member(who, body["group"])] = position
        elif ent == "ProjectRole":
            key = (body["project"], body["role"])
            s = self.actors.setdefault(key, set())
            (s.add if present else s.discard)((kind, who))
            if not s:
                del self.actors[key]
            self.changed[line_role(kind, who, key)] = position

    def apply(self, event_type, e, position):
        if event_type in ("UserObserved",):
            self.users[e["user"]["account_id"]] = e["user"]["account_type"]
        elif event_type == "UserChanged":
            self.users[e["after"]["account_id"]] = e["after"]["account_type"]
        elif event_type == "UserVanished":
            self.users.pop(e["account_id"], None)
        elif event_type == "GroupObserved":
            self.groups[e["group"]["group_id"]] = e["group"]["name"]
        elif event_type == "GroupRenamed":
            if e["group_id"] in self.groups:
                self.groups[e["group_id"]] = e["to"]
        elif event_type == "GroupVanished":
            g = e["group_id"]
            self.groups.pop(g, None)
            self.members.pop(g, None)
            for key in list(self.actors):
                self.actors[key].discard(("Group", g))
                if not self.actors[key]:
                    del self.actors[key]
        elif event_type == "ProjectObserved":
            self.projects[e["project"]["project_id"]] = e["project"]["key"]
        elif event_type == "ProjectChanged":
            self.projects[e["after"]["project_id"]] = e["after"]["key"]
        elif event_type == "ProjectVanished":
            p = e["project_id"]
            self.projects.pop(p, None)
            for key in [k for k in self.roles if k[0] == p]:
                del self.roles[key]
            for key in [k for k in self.actors if k[0] == p]:
                del self.actors[key]
        elif event_type == "ProjectRoleObserved":
            r = e["role"]
            self.roles[(r["project_id"], r["role_id"])] = r["name"]
        elif event_type == "ProjectRoleVanished":
            key = (e["project_id"], e["role_id"])
            self.actors.pop(key, None)
            self.roles.pop(key, None)
        elif event_type == "ProductAccessGroupsChanged":
            if e["groups"]:
                self.products[e["product"]] = set(e["groups"])
            else:
                self.products.pop(e["product"], None)
        elif event_type == "GrantAdded":
            self.grant(e["grant"], True, position)
        elif event_type == "GrantRemoved":
            self.grant(e["grant"], False, position)


def canonical(parts):
    return json.dumps(parts, separators=(",", ":"), ensure_ascii=False)


def line_member(account, group):
    return canonical(["member", account, group])


def line_role(kind, who, key):
    return canonical(["role-user" if kind == "User" else "role-group", who, key[0], key[1]])


def select(site, scope, since):
    selectors = scope["selectors"]
    all_grants = "AllGrants" in selectors
    groups, role_rules = set(), []
    for sel in selectors:
        if sel == "AllGrants":
            continue
        (kind, body), = sel.items()
        if kind in ("Groups", "PrivilegedGroups"):
            groups |= {g for g, name in site.groups.items() if any_glob(body["patterns"], name)}
        elif kind == "ProductAccess":
            for p in body["products"]:
                groups |= site.products.get(p, set())
        elif kind == "ProjectRoles":
            role_rules.append((body["projects"], body["roles"]))
        else:
            raise ValueError(f"unknown scope selector {kind}")
    types = set(scope["account_types"])

    def keep_user(a):
        return site.users.get(a, "Unknown") in types

    def keep_since(line):
        return since is None or site.changed.get(line, 0) > since

    lines = set()
    for g, users in site.members.items():
        if all_grants or g in groups:
            for u in users:
                line = line_member(u, g)
                if keep_user(u) and keep_since(line):
                    lines.add(line)
    for key, actors in site.actors.items():
        selected = all_grants
        if not selected:
            pkey, rname = site.projects.get(key[0]), site.roles.get(key)
            selected = any(pkey is not None and any_glob(projects, pkey)
                           and (not roles or (rname is not None and any_glob(roles, rname)))
                           for projects, roles in role_rules)
        if not selected:
            continue
        for kind, who in actors:
            line = line_role(kind, who, key)
            if (kind == "Group" or keep_user(who)) and keep_since(line):
                lines.add(line)
    return sorted(lines, key=lambda l: l.encode("utf-8"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("export", help="a whole export (from position 1), or - for standard input")
    ap.add_argument("campaign", help="the campaign id, e.g. c1")
    ap.add_argument("--lines", action="store_true", help="print the canonical item lines")
    args = ap.parse_args()
    stream = f"campaign:{args.campaign}"
    records = []
    try:
        src = sys.stdin if args.export == "-" else open(args.export, encoding="utf-8")
        with src:
            for n, text in enumerate(src, 1):
                records.append(json.loads(text))
    except (OSError, ValueError) as e:
        print(f"cannot read the export: {e}", file=sys.stderr)
        return 2
    created = launched = None
    for r in records:
        if r["stream"] == stream:
            if r["event_type"] == "CampaignCreated":
                created = r["event"]["CampaignCreated"]
            elif r["event_type"] == "CampaignLaunched":
                launched = r["event"]["CampaignLaunched"]
    if created is None or launched is None:
        print(f"the export holds no launched campaign {args.campaign}", file=sys.stderr)
        return 2
    site_stream = "jira:" + created["site"]
    site = Site()
    head_hash = None
    for r in records:
        if r["position"] > launched["position"]:
            break
        if r["position"] == launched["position"]:
            head_hash = r["hash"]
        if r["stream"] == site_stream:
            (event_type, body), = r["event"].items()
            site.apply(event_type, body, r["position"])
    scope = created["scope"]
    since = launched["since_position"]
    lines = select(site, scope, since)
    digest = hashlib.sha256("".join(l + "\n" for l in lines).encode("utf-8")).hexdigest()
    if args.lines:
        for l in lines:
            print(l)
    print(f"launch position {launched['position']}: recorded {launched['item_count']} items {launched['digest']}")
    print(f"recomputed from the export:     {len(lines)} items {digest}")
    ok = len(lines) == launched["item_count"] and digest == launched["digest"]
    if head_hash != launched["head_hash"]:
        print("the record at the launch position has another hash than the campaign recorded")
        ok = False
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
