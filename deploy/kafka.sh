#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft), run straight from Maven Central jars: no Docker.
#
#   deploy/kafka.sh install         resolve the jars into .run/kafka/libs (when the POM changed)
#   deploy/kafka.sh start           install, format storage once, start the broker in the background
#   deploy/kafka.sh wait [seconds]  block until the broker answers requests (default 90 s)
#   deploy/kafka.sh stop            controlled shutdown (SIGTERM; SIGKILL only after a deadline)
#   deploy/kafka.sh status
#   deploy/kafka.sh cli <alias|class> [args...]
#       aliases: topics, console-consumer, console-producer, consumer-groups, configs, acls,
#                get-offsets, api-versions, metadata-quorum, storage
#   deploy/kafka.sh <alias> [args...]   (same as cli <alias>), e.g.
#       deploy/kafka.sh topics --bootstrap-server 127.0.0.1:9092 --describe
#
# Environment: KAFKA_PORT (9092, the services' PLAINTEXT listener), KAFKA_CONTROLLER_PORT (9093),
# KAFKA_AGENCY_PORT (9094, the collection agencies' SASL_PLAINTEXT listener: SCRAM-SHA-512 and
# ACLs, see deploy/agencies.py), KAFKA_HEAP_OPTS (-Xms256m -Xmx512m).
# Everything lives under .run/kafka: libs/, data/, logs/ (server.log, kafka.out), kafka.pid.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONF_DIR="$ROOT/deploy/kafka"
RUN_DIR="$ROOT/.run/kafka"
LIBS="$RUN_DIR/libs"
DATA_DIR="$RUN_DIR/data"
LOG_DIR="$RUN_DIR/logs"
PROPS="$RUN_DIR/server.properties"
PID_FILE="$RUN_DIR/kafka.pid"
STAMP="$RUN_DIR/libs.stamp"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_AGENCY_PORT="${KAFKA_AGENCY_PORT:-9094}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

log() { echo "kafka: $*" >&2; }
die() { log "$*"; exit 1; }

# --- installation -------------------------------------------------------------------------------

ensure_toolchain() {
    # A fresh Debian box may lack Java or Maven; install them the ordinary way.
    if command -v java >/dev/null && command -v mvn >/dev/null; then return; fi
    command -v apt-get >/dev/null || die "java and mvn are required (no apt-get to install them)"
    log "installing Java and Maven with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q default-jre-headless maven
}

pom_hash() { sha256sum "$CONF_DIR/pom.xml" | cut -d' ' -f1; }

cmd_install() {
    ensure_toolchain
    if [[ -d "$LIBS" && -f "$STAMP" && "$(cat "$STAMP")" == "$(pom_hash)" ]]; then
        return
    fi
    log "resolving Kafka jars from Maven Central into .run/kafka/libs"
    mkdir -p "$LOG_DIR"
    # Copy into a scratch directory and swap, so an interrupted download never looks installed.
    # Maven's output goes to a file (Debian's Maven 3.8 sprays colour codes even with -q -B).
    rm -rf "$LIBS.tmp"
    if ! mvn -B -f "$CONF_DIR/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime >"$LOG_DIR/mvn-install.log" 2>&1; then
        tail -n 40 "$LOG_DIR/mvn-install.log" >&2
        die "maven failed; full output in .run/kafka/logs/mvn-install.log"
    fi
    rm -rf "$LIBS"
    mv "$LIBS.tmp" "$LIBS"
    pom_hash >"$STAMP"
}

# --- helpers ------------------------------------------------------------------------------------

# Run a Kafka tool class; tools log warnings to stderr only, and start fast (they are short-lived).
run_tool() {
    local class="$1"
    shift
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        "-Dlog4j2.configurationFile=$CONF_DIR/tools-log4j2.properties" \
        -cp "$LIBS/*" "$class" "$@"
}

rendered_props() {
    sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
        -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
        -e "s|@KAFKA_AGENCY_PORT@|$KAFKA_AGENCY_PORT|g" \
        -e "s|@DATA_DIR@|$DATA_DIR|g" \
        "$CONF_DIR/server.properties.template"
}

render_props() {
    mkdir -p "$DATA_DIR" "$LOG_DIR"
    rendered_props >"$PROPS"
}

# .run/kafka/server.properties is what the running broker was started with.
props_current() { [[ -f "$PROPS" ]] && rendered_props | cmp -s - "$PROPS"; }

# The pid from the pid file, if that process is alive and really is our broker (pids get reused).
running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The broker answers a metadata + ApiVersions round trip (not just an open socket).
broker_answers() {
    run_tool org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$BOOTSTRAP" \
        --command-config <(echo request.timeout.ms=5000) >/dev/null 2>&1
}

# --- lifecycle ----------------------------------------------------------------------------------

cmd_start() {
    local pid
    cmd_install
    if pid="$(running_pid)"; then
        log "already running (pid $pid)"
        if ! props_current; then
            log "WARNING: it runs an older configuration than deploy/kafka/server.properties.template;" \
                "restart it to apply the change (deploy/kafka.sh stop && deploy/kafka.sh start)"
        fi
        return
    fi
    rm -f "$PID_FILE"
    local port
    for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_AGENCY_PORT"; do
        if port_open "$port"; then die "port $port is taken by another process"; fi
    done
    render_props

    # Format once: meta.properties marks formatted storage; reformatting would wipe the cluster id.
    if [[ ! -f "$DATA_DIR/meta.properties" ]]; then
        local cluster_id
        cluster_id="$(run_tool kafka.tools.StorageTool random-uuid)"
        log "formatting storage (cluster id $cluster_id)"
        run_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" --standalone >/dev/null
    fi

    log "starting broker on $BOOTSTRAP (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT," \
        "agencies 127.0.0.1:$KAFKA_AGENCY_PORT)"
    # setsid: the broker gets a session of its own, so Ctrl-C on `make run` or the end of the shell
    # that started it does not take it down; `deploy/kafka.sh stop` does, cleanly.
    # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM flags
    setsid nohup java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        "-Dkafka.logs.dir=$LOG_DIR" "-Dlog4j2.configurationFile=$CONF_DIR/log4j2.properties" \
        -cp "$LIBS/*" kafka.Kafka "$PROPS" \
        >>"$LOG_DIR/kafka.out" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
}

cmd_wait() {
    local timeout="${1:-90}"
    local deadline=$((SECONDS + timeout))
    if running_pid >/dev/null && ! grep -q "^listeners=.*AGENCY://" "$PROPS"; then
        die "the running broker was started without the agency listener (an older configuration);" \
            "restart it: deploy/kafka.sh stop && deploy/kafka.sh start"
    fi
    while ((SECONDS < deadline)); do
        if ! running_pid >/dev/null; then
            log "broker is not running"
            tail_logs
            exit 1
        fi
        # The listeners open together; waiting for the agency port too means agencies can connect
        # (and be provisioned) as soon as this returns.
        if port_open "$KAFKA_PORT" && port_open "$KAFKA_AGENCY_PORT" && broker_answers; then
            log "ready on $BOOTSTRAP (agencies 127.0.0.1:$KAFKA_AGENCY_PORT)"
            return
        fi
        sleep 1
    done
    log "not ready after ${timeout}s"
    tail_logs
    exit 1
}

tail_logs() {
    for f in "$LOG_DIR/kafka.out" "$LOG_DIR/server.log"; do
        [[ -s "$f" ]] && { echo "--- tail of $f" >&2; tail -n 40 "$f" >&2; }
    done
    return 0
}

cmd_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        log "not running"
        return
    fi
    # SIGTERM triggers Kafka's controlled shutdown, which flushes logs and writes a clean-shutdown
    # marker, so the next start skips log recovery.
    log "stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
        log "still alive after 60s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        if port_open "$KAFKA_PORT"; then
            echo "kafka: running (pid $pid) on $BOOTSTRAP"
        else
            echo "kafka: starting (pid $pid), port $KAFKA_PORT not open yet"
        fi
    else
        echo "kafka: stopped"
        return 3
    fi
}

tool_class() {
    case "$1" in
        topics) echo org.apache.kafka.tools.TopicCommand ;;
        console-consumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
        console-producer) echo org.apache.kafka.tools.ConsoleProducer ;;
        consumer-groups) echo org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
        configs) echo kafka.admin.ConfigCommand ;;
        acls) echo org.apache.kafka.tools.AclCommand ;;
        get-offsets) echo org.apache.kafka.tools.GetOffsetShell ;;
        api-versions) echo org.apache.kafka.tools.BrokerApiVersionsCommand ;;
        metadata-quorum) echo org.apache.kafka.tools.MetadataQuorumCommand ;;
        storage) echo kafka.tools.StorageTool ;;
        *.*) echo "$1" ;; # a fully qualified class name
        *) return 1 ;;
    esac
}

cmd_cli() {
    [[ $# -ge 1 ]] || die "usage: kafka.sh cli <alias|class> [args...]"
    local class
    class="$(tool_class "$1")" || die "unknown tool '$1'"
    shift
    cmd_install
    run_tool "$class" "$@"
}

# The header comment is the usage text.
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        install) cmd_install ;;
        start) cmd_start ;;
        wait) cmd_wait "$@" ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        cli) cmd_cli "$@" ;;
        -h | --help | help | "") usage ;;
        *)
            if tool_class "$cmd" >/dev/null && [[ "$cmd" != *.* ]]; then
                cmd_cli "$cmd" "$@"
            else
                usage >&2
                exit 2
            fi
            ;;
    esac
}

main "$@"
