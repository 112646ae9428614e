# shellcheck shell=bash
# Shared functions for services/up, services/down and services/ctl.
#
# DEV/TEST ONLY: PostgreSQL runs with fsync/full_page_writes off, everything
# listens on 127.0.0.1 only, and Neo4j gets a small heap. Never use for production.
#
# Every path is derived from this file's location, so a clone anywhere works.

SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SERVICES_DIR")"
VAR_DIR="$REPO_ROOT/var/services"
LOG_DIR="$VAR_DIR/log"
RUN_DIR="$VAR_DIR/run"
ENV_FILE="$SERVICES_DIR/env"
START_TIMEOUT="${SERVICES_START_TIMEOUT:-120}"
STOP_TIMEOUT="${SERVICES_STOP_TIMEOUT:-60}"

ALL_SERVICES=(pg redis-layer redis-cache neo4j)

PG_PORT=55432
PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=bunnybook PG_PASSWORD=bunnybook PG_DB=bunnybook

REDIS_LAYER_PORT=56379
REDIS_CACHE_PORT=56380

NEO4J_PORT=57687
NEO4J_USER=neo4j
NEO4J_PASSWORD="${NEO4J_PASSWORD:-bunnybook-neo4j}"
NEO4J_SRC="$SERVICES_DIR/neo4j"
NEO4J_TARGET="$NEO4J_SRC/target"
NEO4J_HOME="$VAR_DIR/neo4j"
NEO4J_PIDFILE="$RUN_DIR/neo4j.pid"
NEO4J_LOG="$LOG_DIR/neo4j.log"
NEO4J_HEAP="${NEO4J_HEAP:-512m}"
NEO4J_PAGECACHE_MB="${NEO4J_PAGECACHE_MB:-64}"

# ---------------------------------------------------------------- helpers

log() { printf '[services] %s\n' "$*" >&2; }

die() {
    log "ERROR: $*"
    exit 1
}

# Last lines of a log file, to make a failed start self-explaining.
show_log_tail() {
    local file=$1
    [[ -r $file ]] || return 0
    log "--- last 40 lines of $file ---"
    tail -n 40 "$file" >&2 || true
    log "--- end of $file ---"
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# wait_until <what> <logfile> <command...>: polls until the command succeeds;
# after START_TIMEOUT seconds it fails loudly with the log tail.
wait_until() {
    local what=$1 logfile=$2
    shift 2
    local deadline=$((SECONDS + START_TIMEOUT))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            show_log_tail "$logfile"
            die "$what did not come up within ${START_TIMEOUT}s"
        fi
        sleep 0.2
    done
}

# wait_while <what> <command...>: polls until the command fails (used for stops).
wait_while() {
    local what=$1
    shift
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while "$@"; do
        if ((SECONDS >= deadline)); then
            log "$what still running after ${STOP_TIMEOUT}s"
            return 1
        fi
        sleep 0.2
    done
}

# A killed process can linger as a zombie until init reaps it (slowly on some
# CI sandboxes); kill -0 succeeds on zombies, so check the state too.
pid_alive() {
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ $state != Z* ]]
}

pid_exists() { kill -0 "$1" 2>/dev/null; }

# A just-killed server may still exist as a zombie; PostgreSQL treats that pid
# as a live postmaster and refuses to start, so wait for it to be reaped.
wait_reaped() {
    local pid=${1:-}
    [[ -n $pid ]] && pid_exists "$pid" && ! pid_alive "$pid" || return 0
    wait_while "zombie pid $pid" pid_exists "$pid" || true
}

read_pidfile() { [[ -r $1 ]] && tr -dc '0-9' <"$1"; }

# Refuse to start when a foreign process holds our port. A server killed a
# moment ago may still be closing its sockets, hence the short grace period.
ensure_port_free() {
    local name=$1 port=$2 deadline=$((SECONDS + 10))
    while port_open "$port"; do
        if ((SECONDS >= deadline)); then
            die "$name: port $port is already in use by another process (ss -ltnp 'sport = :$port')"
        fi
        sleep 0.2
    done
}

check_service_name() {
    local name
    for name in "${ALL_SERVICES[@]}"; do
        [[ $name == "$1" ]] && return 0
    done
    die "unknown service '$1' (one of: ${ALL_SERVICES[*]})"
}

prepare_dirs() {
    mkdir -p "$LOG_DIR" "$RUN_DIR" "$VAR_DIR/redis-layer" "$VAR_DIR/redis-cache" "$NEO4J_HOME"
}

# ---------------------------------------------------------------- installs

# apt-installs whatever is missing; apt-get update only runs when needed.
install_system_packages() {
    local missing=()
    [[ -x $PG_BIN/postgres ]] || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v redis-cli >/dev/null || missing+=(redis-tools)
    command -v java >/dev/null || missing+=(openjdk-17-jdk-headless)
    command -v mvn >/dev/null || missing+=(maven)
    ((${#missing[@]})) || return 0
    ((EUID == 0)) || die "missing packages (${missing[*]}); run services/up as root or install them"
    log "installing ${missing[*]} (apt)"
    local apt_log="$LOG_DIR/apt.log"
    { apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"$apt_log" 2>&1 || { show_log_tail "$apt_log"; die "apt-get install ${missing[*]} failed"; }
}

# ---------------------------------------------------------------- PostgreSQL
#
# The server must run as a non-root user; as root we use the `postgres` system
# user. That user must be able to reach the cluster directory; when the clone
# lives somewhere it cannot traverse (e.g. under /root), or the socket path
# would exceed the kernel's ~107-byte limit, the cluster lives in /var/tmp and
# var/services/pg is a symlink to it.

pg_home() {
    local dir="$VAR_DIR/pg"
    if [[ -L $dir ]]; then readlink -f "$dir"; else printf '%s\n' "$dir"; fi
}

as_pg() {
    if ((EUID == 0)); then
        (cd / && runuser -u postgres -- "$@") # cwd may be unreadable for postgres
    else
        "$@"
    fi
}

pg_needs_fallback_home() {
    local sock_path="$VAR_DIR/pg/socket/.s.PGSQL.$PG_PORT"
    ((${#sock_path} > 100)) && return 0
    ((EUID == 0)) && ! runuser -u postgres -- test -x "$VAR_DIR" && return 0
    return 1
}

pg_prepare_home() {
    local link="$VAR_DIR/pg" home
    if [[ ! -e $link ]] && pg_needs_fallback_home; then
        home="/var/tmp/bunnybook-pg-$(printf '%s' "$REPO_ROOT" | sha1sum | cut -c1-10)"
        log "pg: postgres user cannot use $link; cluster goes to $home (symlinked)"
        mkdir -p "$home"
        ln -sfn "$home" "$link"
    fi
    home=$(pg_home)
    mkdir -p "$home/socket"
    # Only the top-level dirs: initdb already creates everything below as postgres.
    ((EUID == 0)) && chown postgres:postgres "$home" "$home/socket"
    chmod 700 "$home"
    # Keep every log in one place, even though the server writes it in its own dir.
    ln -sfn "$home/postgresql.log" "$LOG_DIR/postgresql.log"
}

pg_ctl_cmd() { as_pg "$PG_BIN/pg_ctl" -D "$(pg_home)/data" "$@"; }

pg_postmaster_pid() { head -n1 "$(pg_home)/data/postmaster.pid" 2>/dev/null; }

# Not `pg_ctl status`: it reports a zombie postmaster as running.
pg_running() { pid_alive "$(pg_postmaster_pid || true)"; }

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

pg_initdb() {
    local data
    data="$(pg_home)/data"
    [[ -f $data/PG_VERSION ]] && return 0
    log "pg: initdb $data"
    as_pg "$PG_BIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$(pg_home)/initdb.log" 2>&1 ||
        { show_log_tail "$(pg_home)/initdb.log"; die "pg: initdb failed"; }
    # Our settings live in their own file, rewritten on every start.
    echo "include_if_exists = 'bunnybook.conf'" | as_pg tee -a "$data/postgresql.conf" >/dev/null
}

# Written on every start so edits here reach existing clusters.
pg_write_conf() {
    local home
    home=$(pg_home)
    as_pg tee "$home/data/bunnybook.conf" >/dev/null <<EOF
# Written by services/lib.sh on every start. DEV/TEST ONLY: not crash-safe.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$home/socket'
max_connections = 200
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

# Idempotent: the app role (superuser, so Django's test runner can create
# test_bunnybook and migrations can CREATE EXTENSION) and its database.
pg_bootstrap() {
    "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h "$(pg_home)/socket" -p "$PG_PORT" -U postgres -d postgres >/dev/null <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
EOF
}

pg_start() {
    pg_prepare_home
    if pg_running; then
        pg_ready && return 0
    else
        wait_reaped "$(pg_postmaster_pid || true)"
        ensure_port_free pg "$PG_PORT"
        pg_initdb
        pg_write_conf
        log "pg: starting on 127.0.0.1:$PG_PORT"
        pg_ctl_cmd -l "$(pg_home)/postgresql.log" -w -t "$START_TIMEOUT" start >/dev/null ||
            { show_log_tail "$LOG_DIR/postgresql.log"; die "pg: pg_ctl start failed"; }
    fi
    wait_until pg "$LOG_DIR/postgresql.log" pg_ready
    pg_bootstrap
}

pg_stop() {
    pg_running || return 0
    log "pg: stopping"
    pg_ctl_cmd -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null
}

pg_status() {
    if pg_running; then
        echo "pg: running (pid $(pg_postmaster_pid), 127.0.0.1:$PG_PORT)"
    else
        echo "pg: stopped"
        return 3
    fi
}

# ---------------------------------------------------------------- Redis
# Two independent servers ("layer" for Channels, "cache" for Django's cache),
# so a test can kill one and keep the other.

redis_port() {
    case $1 in
        redis-layer) echo "$REDIS_LAYER_PORT" ;;
        redis-cache) echo "$REDIS_CACHE_PORT" ;;
    esac
}

redis_ping() { [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]; }

redis_start() {
    local name=$1 port
    port=$(redis_port "$name")
    redis_ping "$port" && return 0
    ensure_port_free "$name" "$port"
    log "$name: starting on 127.0.0.1:$port"
    # No persistence: this data is disposable.
    redis-server --port "$port" --bind 127.0.0.1 --dir "$VAR_DIR/$name" \
        --daemonize yes --save "" --appendonly no \
        --pidfile "$RUN_DIR/$name.pid" --logfile "$LOG_DIR/$name.log" ||
        { show_log_tail "$LOG_DIR/$name.log"; die "$name: redis-server failed to start"; }
    wait_until "$name" "$LOG_DIR/$name.log" redis_ping "$port"
}

redis_stop() {
    local name=$1 port pid
    port=$(redis_port "$name")
    redis_ping "$port" || return 0
    log "$name: stopping"
    pid=$(read_pidfile "$RUN_DIR/$name.pid" || true)
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait_while "$name" redis_ping "$port" || die "$name: did not stop"
    if pid_alive "$pid"; then wait_while "$name" pid_alive "$pid" || true; fi
}

redis_status() {
    local name=$1 port
    port=$(redis_port "$name")
    if redis_ping "$port"; then
        echo "$name: running (pid $(read_pidfile "$RUN_DIR/$name.pid" || echo '?'), 127.0.0.1:$port)"
    else
        echo "$name: stopped"
        return 3
    fi
}

# ---------------------------------------------------------------- Neo4j
# A real Neo4j Community, embedded in services/neo4j's launcher (Maven build,
# cached in services/neo4j/target: rebuilt only when the pom or source changes).

neo4j_build_stamp() {
    {
        cat "$NEO4J_SRC/pom.xml"
        find "$NEO4J_SRC/src" -type f -print0 | sort -z | xargs -0 cat
    } | sha1sum | cut -d' ' -f1
}

neo4j_build() {
    local stamp
    stamp=$(neo4j_build_stamp)
    if [[ -f $NEO4J_TARGET/bunnybook-neo4j.jar && -d $NEO4J_TARGET/lib &&
        $(cat "$NEO4J_TARGET/build.stamp" 2>/dev/null) == "$stamp" ]]; then
        return 0
    fi
    log "neo4j: building launcher (Maven; the first build downloads Neo4j)"
    rm -rf "${NEO4J_TARGET:?}/lib" # no stale jars after a version bump
    mvn -B -q -f "$NEO4J_SRC/pom.xml" package >"$LOG_DIR/neo4j-build.log" 2>&1 ||
        { show_log_tail "$LOG_DIR/neo4j-build.log"; die "neo4j: Maven build failed"; }
    echo "$stamp" >"$NEO4J_TARGET/build.stamp"
}

neo4j_pid() {
    local pid
    pid=$(read_pidfile "$NEO4J_PIDFILE" || true)
    # Guard against a recycled pid belonging to some other program.
    pid_alive "$pid" && grep -qa 'dev.bunnybook.neo4j.Launcher' "/proc/$pid/cmdline" 2>/dev/null &&
        echo "$pid"
}

neo4j_running() { [[ -n $(neo4j_pid) ]]; }

neo4j_ready() { grep -q '^neo4j ready' "$NEO4J_LOG" 2>/dev/null && port_open "$NEO4J_PORT"; }

# While waiting, also notice a JVM that died early instead of waiting 120 s.
neo4j_ready_or_dead() {
    local jvm=$1
    if ! pid_alive "$jvm"; then
        show_log_tail "$NEO4J_LOG"
        die "neo4j: JVM exited during startup"
    fi
    neo4j_ready
}

# Launches the JVM without waiting, so `up` can start the other services while
# Neo4j boots (it is by far the slowest). neo4j_wait finishes the job.
neo4j_spawn() {
    NEO4J_SPAWNED_PID=
    neo4j_running && return 0
    ensure_port_free neo4j "$NEO4J_PORT"
    neo4j_build
    log "neo4j: starting on 127.0.0.1:$NEO4J_PORT"
    rm -f "$NEO4J_PIDFILE"
    # setsid + nohup: the JVM must outlive this shell and ignore its Ctrl-C.
    NEO4J_PASSWORD="$NEO4J_PASSWORD" setsid nohup java \
        -Xms"$NEO4J_HEAP" -Xmx"$NEO4J_HEAP" -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow \
        -XX:+UnlockExperimentalVMOptions -XX:+TrustFinalNonStaticFields -XX:+DisableExplicitGC \
        -Djdk.nio.maxCachedBufferSize=1024 -Dio.netty.tryReflectionSetAccessible=true \
        -Dlog4j2.disable.jmx=true -Dbunnybook.pagecache.mb="$NEO4J_PAGECACHE_MB" \
        --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
        -cp "$NEO4J_TARGET/bunnybook-neo4j.jar:$NEO4J_TARGET/lib/*" dev.bunnybook.neo4j.Launcher \
        "$NEO4J_HOME" 127.0.0.1 "$NEO4J_PORT" "$NEO4J_PIDFILE" \
        </dev/null >"$NEO4J_LOG" 2>&1 &
    NEO4J_SPAWNED_PID=$!
}

neo4j_wait() {
    if [[ -n ${NEO4J_SPAWNED_PID:-} ]]; then
        wait_until neo4j "$NEO4J_LOG" neo4j_ready_or_dead "$NEO4J_SPAWNED_PID"
    else
        wait_until neo4j "$NEO4J_LOG" neo4j_ready
    fi
}

neo4j_start() {
    neo4j_spawn
    neo4j_wait
}

neo4j_stop() {
    local pid
    pid=$(neo4j_pid || true)
    [[ -n $pid ]] || return 0
    log "neo4j: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true # the launcher's shutdown hook stops Neo4j cleanly
    if ! wait_while neo4j pid_alive "$pid"; then
        log "neo4j: killing pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$NEO4J_PIDFILE"
}

neo4j_status() {
    local pid
    pid=$(neo4j_pid || true)
    if [[ -n $pid ]] && neo4j_ready; then
        echo "neo4j: running (pid $pid, bolt://127.0.0.1:$NEO4J_PORT)"
    elif [[ -n $pid ]]; then
        echo "neo4j: starting (pid $pid)"
        return 3
    else
        echo "neo4j: stopped"
        return 3
    fi
}

# ---------------------------------------------------------------- dispatch

service_start() {
    case $1 in
        pg) pg_start ;;
        redis-layer | redis-cache) redis_start "$1" ;;
        neo4j) neo4j_start ;;
    esac
}

service_stop() {
    case $1 in
        pg) pg_stop ;;
        redis-layer | redis-cache) redis_stop "$1" ;;
        neo4j) neo4j_stop ;;
    esac
}

service_status() {
    case $1 in
        pg) pg_status ;;
        redis-layer | redis-cache) redis_status "$1" ;;
        neo4j) neo4j_status ;;
    esac
}

write_env() {
    local tmp="$ENV_FILE.tmp"
    cat >"$tmp" <<EOF
# Written by services/up. Dev/test services on loopback; source it: . services/env
export DATABASE_URL=postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
export REDIS_URL=redis://127.0.0.1:$REDIS_LAYER_PORT/0
export CACHE_URL=redis://127.0.0.1:$REDIS_CACHE_PORT/0
export NEO4J_URI=bolt://127.0.0.1:$NEO4J_PORT
export NEO4J_USER=$NEO4J_USER
export NEO4J_PASSWORD=$NEO4J_PASSWORD
EOF
    mv "$tmp" "$ENV_FILE"
}
