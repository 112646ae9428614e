package dev.bunnybook.neo4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import java.time.Duration;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;

/**
 * Runs an embedded Neo4j Community server with Bolt on one address until the JVM is
 * told to stop (SIGTERM/SIGINT run the shutdown hook, which shuts Neo4j down cleanly).
 *
 * <p>Dev/test only. Usage: {@code Launcher <home-dir> <host> <port> <pid-file>}.
 * If NEO4J_PASSWORD is set, auth is enabled and user "neo4j" gets that password;
 * otherwise auth is disabled. Prints "neo4j ready" once clients can run queries.
 */
public final class Launcher {
    private static final String READY_LINE = "neo4j ready";

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: Launcher <home-dir> <host> <port> <pid-file>");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        SocketAddress bolt = new SocketAddress(args[1], Integer.parseInt(args[2]));
        Path pidFile = Path.of(args[3]).toAbsolutePath();
        String password = System.getenv().getOrDefault("NEO4J_PASSWORD", "");
        long pageCacheMb = Long.getLong("bunnybook.pagecache.mb", 64);

        // The pid file lets the scripts find this JVM even if it was started via setsid.
        Files.writeString(pidFile, ProcessHandle.current().pid() + "\n");

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, bolt)
                .setConfig(BoltConnector.advertised_address, bolt)
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                // Idle-connection grace periods default to 5 s each; stops (tests kill and
                // restart Neo4j) would otherwise take 10 s for no benefit here.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofMillis(500))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofMillis(500))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, !password.isEmpty())
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMb))
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "2 files")
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .build();

        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("neo4j stopping");
            dbms.shutdown();
            System.out.println("neo4j stopped");
            System.out.flush();
        }, "neo4j-shutdown"));

        if (!password.isEmpty()) {
            setPassword(dbms, password);
        }

        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!db.isAvailable(120_000)) {
            System.err.println("neo4j: default database did not become available");
            System.exit(1);
        }
        db.executeTransactionally("RETURN 1");
        System.out.println(READY_LINE + " on bolt://" + bolt + " (auth "
                + (password.isEmpty() ? "disabled" : "enabled") + ")");
        System.out.flush();

        new CountDownLatch(1).await(); // park main; the shutdown hook ends the process
    }

    /** Sets the built-in user's password; a restart with the same password is a no-op. */
    private static void setPassword(DatabaseManagementService dbms, String password) {
        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            if (!String.valueOf(e.getMessage()).contains("cannot be the same")) {
                throw e;
            }
        }
    }
}
