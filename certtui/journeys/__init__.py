"""Each journey once (issue, adopt, renew, revoke, export, inspect, enroll); every front end calls these."""
