"""Every Cypher statement of the projection, as named constants with parameters.

The graph: one `(:Bunny {id})` node per bunny with friends, one `[:FRIEND]` relationship per
pair of friends (direction meaningless, always matched undirected). Values only ever travel
as parameters; nothing here is built from strings at run time.
"""

CREATE_BUNNY_ID_CONSTRAINT = (
    "CREATE CONSTRAINT bunny_id_unique IF NOT EXISTS FOR (b:Bunny) REQUIRE b.id IS UNIQUE"
)

SHOW_BUNNY_ID_CONSTRAINT = "SHOW CONSTRAINTS YIELD name WHERE name = 'bunny_id_unique' RETURN name"

# --- Writes: each is idempotent, so replaying a batch is harmless --------------------------

# $pairs: [[user_a, user_b], ...]
LINK_PAIRS = """
UNWIND $pairs AS pair
MERGE (a:Bunny {id: pair[0]})
MERGE (b:Bunny {id: pair[1]})
MERGE (a)-[:FRIEND]-(b)
"""

UNLINK_PAIRS = """
UNWIND $pairs AS pair
MATCH (:Bunny {id: pair[0]})-[r:FRIEND]-(:Bunny {id: pair[1]})
DELETE r
"""

# Bulk load (graph_rebuild) into a graph just emptied: nodes first (MERGE, through the
# uniqueness constraint's index: a push made meanwhile may have created one already), then
# the relationships, their ends found by id through that index. CREATE, not MERGE: MERGE
# first looks for the pair among the relationships of nodes with dozens of friends, which
# made the load several times slower. A pair that a push linked meanwhile may so end up
# linked twice; the rebuild repairs those afterwards (DELETE_DUPLICATE_EDGES).
MERGE_BUNNIES = """
UNWIND $ids AS id
MERGE (:Bunny {id: id})
"""

# $rows: [[user_a, [user_b, ...]], ...]: pairs grouped by their smaller end, which is then
# looked up once per group rather than once per pair.
CREATE_FRIENDS_OF = """
UNWIND $rows AS row
MATCH (a:Bunny {id: row[0]})
UNWIND row[1] AS friend_id
MATCH (b:Bunny {id: friend_id})
CREATE (a)-[:FRIEND]->(b)
"""

# Auto-commit only (CALL ... IN TRANSACTIONS); bounded memory on any size of graph:
# relationships first, so no inner transaction detaches a node's many edges at once
# (10,000 bunnies with 50 friends each overflow a 1 GB heap's transaction memory).
DELETE_ALL_FRIEND_EDGES = """
MATCH ()-[r:FRIEND]->()
CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS
"""

DELETE_ALL_BUNNIES = """
MATCH (b:Bunny)
CALL (b) { DETACH DELETE b } IN TRANSACTIONS OF 10000 ROWS
"""

DELETE_LONELY_BUNNIES = """
MATCH (b:Bunny) WHERE NOT (b)-[:FRIEND]-()
DETACH DELETE b
RETURN count(*) AS deleted
"""

# --- Reads --------------------------------------------------------------------------------

# Each read answers in one record holding a list: the driver parses every record apart in
# Python (two socket reads and a message each), which made a 50-row answer cost the client
# twice the time of the query itself.

# Friends of friends ranked by mutual friends, ties by id, with the $sample smallest mutual
# friends' ids, exactly as in the SQL store. Written as one pattern so that the planner
# answers "a friend of a friend who is not my friend" with its TriadicSelection operator,
# which keeps my friends in a set while walking; the sample is sorted for the top rows only.
# Measured by bench/bench_suggestions.py against the earlier shape (a union marking friends
# per candidate, walked in id order): same answers, 2 ms against 3 ms in Neo4j per query.
SUGGESTIONS = """
MATCH (me:Bunny {id: $user_id})-[:FRIEND]-(friend)-[:FRIEND]-(candidate)
WHERE candidate <> me AND NOT (me)-[:FRIEND]-(candidate)
WITH candidate.id AS id, count(*) AS mutual_count, collect(friend.id) AS vias
WHERE NOT id IN $exclude
WITH id, mutual_count, vias
ORDER BY mutual_count DESC, id ASC
LIMIT $limit
CALL (vias) {
    UNWIND vias AS via
    WITH via ORDER BY via LIMIT $sample
    RETURN collect(via) AS sample
}
RETURN collect([id, mutual_count, sample]) AS rows
"""

MUTUAL_FRIEND_IDS = """
MATCH (:Bunny {id: $user_id})-[:FRIEND]-(mutual:Bunny)-[:FRIEND]-(:Bunny {id: $other_id})
WITH mutual.id AS id ORDER BY id
RETURN collect(id) AS ids
"""

# --- Checks -------------------------------------------------------------------------------

COUNT_FRIEND_EDGES = "MATCH ()-[r:FRIEND]->() RETURN count(r) AS edges"

COUNT_BUNNIES = "MATCH (b:Bunny) RETURN count(b) AS bunnies"

# Edges whose smaller end lies in [$low, $high); each edge once, as [smaller, larger].
# Written so that the planner seeks `a` by the id index: with a label on `b` too it started
# from a scan of every bunny (55 s for one bunny's edges among 1,000,000; 37 ms this way).
EDGES_IN_RANGE = """
MATCH (a:Bunny) WHERE $low <= a.id < $high
MATCH (a)-[:FRIEND]-(b)
WHERE b.id > a.id
RETURN a.id AS a, b.id AS b
"""

# Keep one FRIEND relationship per listed pair (a drifted or hand-edited graph).
DELETE_DUPLICATE_EDGES = """
UNWIND $pairs AS pair
MATCH (:Bunny {id: pair[0]})-[r:FRIEND]-(:Bunny {id: pair[1]})
WITH pair, collect(r) AS rels
UNWIND rels[1..] AS extra
DELETE extra
"""

# The ids that own an edge (its smaller end), for walking the graph in id ranges.
EDGE_OWNER_IDS = """
MATCH (a:Bunny)-[:FRIEND]-(b:Bunny)
WHERE a.id < b.id
RETURN DISTINCT a.id AS id
"""
