"""Each journey once (issue, renew, revoke, export, inspect, enroll); every front end calls these."""
