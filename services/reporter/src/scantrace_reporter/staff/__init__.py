"""Staff accounts and sessions (SPEC 8): `staff.v1` is the source of truth, Redis the view.

| module | holds |
|---|---|
| `models` | request bodies and the public view of an account (never the hash) |
| `passwords` | argon2id hashing, bounded in concurrency |
| `lockout` | the failed sign-in counter and the lock (Redis) |
| `accounts` | the Redis view of accounts; create, disable, apply `staff.v1` events |
| `consumer` | follows `staff.v1` into the view (a rebuild after a Redis flush) |
| `routes` | `/v1/staff`, `/v1/sessions` |
| `runtime` | what the reporter's lifespan starts and stops |
"""
