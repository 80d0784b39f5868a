/*
 * Distribution Tracker: SQL Server side of change data capture (spec §7.2), run once by a DBA, safe to re-run.
 *
 *   sqlcmd -S <server> -U <sysadmin login> -b -v DEBEZIUM_PASSWORD="<strong password>" -i enable-cdc.sql
 *
 * (or with -E / -G for Windows / Entra authentication). The password is a sqlcmd variable, never stored here:
 * take it from your secret store, and put the same value in the Kafka Connect worker's secret file
 * (deploy/secrets/mssql.properties, key `password`). It must not contain a single quote.
 *
 * Needs: SQL Server 2016 SP1+ (Standard, Enterprise or Developer; Azure SQL Managed Instance), the database
 * TrackingDb with dbo.Customers, dbo.Accounts, dbo.Products and dbo.Orders, a sysadmin login (enabling CDC
 * on a database needs sysadmin), and SQL Server Agent running (it runs the CDC capture and cleanup jobs; in
 * a Linux container set MSSQL_AGENT_ENABLED=true). Any failed check raises an error and, with `-b` or the
 * `:on error exit` below, stops the script with a non-zero exit status.
 *
 * What it does, each step skipped when already done:
 *   1. checks the caller is sysadmin, TrackingDb exists and SQL Server Agent is running;
 *   2. creates the login debezium_user (VIEW SERVER STATE, so Debezium can see the Agent's state);
 *   3. enables CDC on TrackingDb and snapshot isolation (the connector's snapshot.isolation.mode=snapshot);
 *   4. creates the gating role cdc_reader and the signal table dbo.debezium_signal;
 *   5. enables CDC on dbo.Customers, dbo.Accounts, dbo.Products, dbo.Orders and dbo.debezium_signal;
 *   6. sets the cleanup job's retention to 5 days (7200 minutes);
 *   7. creates the database user debezium_user: read-only (db_datareader, the CDC schema, the gating role),
 *      plus INSERT/DELETE on dbo.debezium_signal only (incremental snapshots write watermark rows there);
 *   8. verifies all of it, including what debezium_user itself can read.
 *
 * Retention: the cleanup job deletes change rows older than 5 days. Debezium 2.5 does not notice when the
 * position it stored has been cleaned up: a connector stopped for longer than that silently loses changes.
 * Alert on CDC lag well before 5 days (the tracking service's /health/cdc), and after a long outage run an
 * incremental snapshot (incremental-snapshot.sql).
 */
:on error exit
SET NOCOUNT ON;
GO

-------------------------------------------------------------------------------------------------------------
-- 1. Preconditions: sysadmin, the database, SQL Server Agent.
-------------------------------------------------------------------------------------------------------------
USE master;
GO
IF IS_SRVROLEMEMBER(N'sysadmin') <> 1
BEGIN
    RAISERROR(N'enable-cdc.sql must run as a member of sysadmin (sys.sp_cdc_enable_db needs it).', 16, 1);
    SET NOEXEC ON;  -- without -b / :on error exit, compile but run nothing more
END
GO
IF DB_ID(N'TrackingDb') IS NULL
BEGIN
    RAISERROR(N'Database TrackingDb does not exist on this server.', 16, 1);
    SET NOEXEC ON;
END
GO
-- SQL Server Agent runs the capture and cleanup jobs: without it CDC records nothing and Debezium streams
-- nothing ("No maximum LSN recorded in the database"). sys.dm_server_services reports it on Windows and
-- Linux (status 4 = Running); Agent sessions in sys.dm_exec_sessions are the fallback evidence.
IF NOT EXISTS (SELECT 1 FROM sys.dm_server_services
               WHERE servicename LIKE N'SQL Server Agent%' AND status = 4)
   AND NOT EXISTS (SELECT 1 FROM sys.dm_exec_sessions WHERE program_name LIKE N'SQLAgent - %')
BEGIN
    RAISERROR(N'SQL Server Agent is not running: start it (Linux: MSSQL_AGENT_ENABLED=true) and run this script again.',
              16, 1);
    SET NOEXEC ON;
END
ELSE
    PRINT N'ok: SQL Server Agent is running';
GO

-------------------------------------------------------------------------------------------------------------
-- 2. The connector's login.
-------------------------------------------------------------------------------------------------------------
IF NOT EXISTS (SELECT 1 FROM sys.server_principals WHERE name = N'debezium_user')
BEGIN
    CREATE LOGIN debezium_user WITH PASSWORD = N'$(DEBEZIUM_PASSWORD)', CHECK_POLICY = ON,
        DEFAULT_DATABASE = TrackingDb;
    PRINT N'created login debezium_user';
END
ELSE
    PRINT N'login debezium_user exists: password left unchanged (rotate with ALTER LOGIN debezium_user WITH PASSWORD = ...)';
GO
-- Debezium checks the Agent's state through sys.dm_server_services (a warning in its log without this).
GRANT VIEW SERVER STATE TO debezium_user;
GO

-------------------------------------------------------------------------------------------------------------
-- 3. CDC on the database, snapshot isolation.
-------------------------------------------------------------------------------------------------------------
USE TrackingDb;
GO
IF NOT EXISTS (SELECT 1 FROM sys.databases WHERE name = N'TrackingDb' AND is_cdc_enabled = 1)
BEGIN
    EXEC sys.sp_cdc_enable_db;
    PRINT N'enabled CDC on TrackingDb';
END
ELSE
    PRINT N'CDC already enabled on TrackingDb';
GO
IF NOT EXISTS (SELECT 1 FROM sys.databases WHERE name = N'TrackingDb' AND snapshot_isolation_state = 1)
BEGIN
    ALTER DATABASE TrackingDb SET ALLOW_SNAPSHOT_ISOLATION ON;
    PRINT N'enabled ALLOW_SNAPSHOT_ISOLATION on TrackingDb';
END
GO

-------------------------------------------------------------------------------------------------------------
-- 4. Gating role and signal table.
-------------------------------------------------------------------------------------------------------------
IF DATABASE_PRINCIPAL_ID(N'cdc_reader') IS NULL
BEGIN
    CREATE ROLE cdc_reader;
    PRINT N'created role cdc_reader';
END
GO
-- Debezium's signal table layout (id, type, data in this order); id fits a UUID plus "-open"/"-close".
IF OBJECT_ID(N'dbo.debezium_signal', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.debezium_signal (
        id   VARCHAR(42)   NOT NULL PRIMARY KEY,
        type VARCHAR(32)   NOT NULL,
        data VARCHAR(2048) NULL
    );
    PRINT N'created table dbo.debezium_signal';
END
GO

-------------------------------------------------------------------------------------------------------------
-- 5. CDC on the captured tables (all columns, default capture instance dbo_<Table>, gated by cdc_reader).
-------------------------------------------------------------------------------------------------------------
IF OBJECT_ID(N'dbo.Customers', N'U') IS NULL OR OBJECT_ID(N'dbo.Accounts', N'U') IS NULL
   OR OBJECT_ID(N'dbo.Products', N'U') IS NULL OR OBJECT_ID(N'dbo.Orders', N'U') IS NULL
BEGIN
    RAISERROR(N'TrackingDb must have dbo.Customers, dbo.Accounts, dbo.Products and dbo.Orders.', 16, 1);
    SET NOEXEC ON;
END
GO
IF NOT EXISTS (SELECT 1 FROM sys.tables WHERE object_id = OBJECT_ID(N'dbo.Customers') AND is_tracked_by_cdc = 1)
BEGIN
    EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'Customers',
        @role_name = N'cdc_reader', @supports_net_changes = 0;
    PRINT N'enabled CDC on dbo.Customers';
END
ELSE
    PRINT N'CDC already enabled on dbo.Customers';
GO
IF NOT EXISTS (SELECT 1 FROM sys.tables WHERE object_id = OBJECT_ID(N'dbo.Accounts') AND is_tracked_by_cdc = 1)
BEGIN
    EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'Accounts',
        @role_name = N'cdc_reader', @supports_net_changes = 0;
    PRINT N'enabled CDC on dbo.Accounts';
END
ELSE
    PRINT N'CDC already enabled on dbo.Accounts';
GO
IF NOT EXISTS (SELECT 1 FROM sys.tables WHERE object_id = OBJECT_ID(N'dbo.Products') AND is_tracked_by_cdc = 1)
BEGIN
    EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'Products',
        @role_name = N'cdc_reader', @supports_net_changes = 0;
    PRINT N'enabled CDC on dbo.Products';
END
ELSE
    PRINT N'CDC already enabled on dbo.Products';
GO
IF NOT EXISTS (SELECT 1 FROM sys.tables WHERE object_id = OBJECT_ID(N'dbo.Orders') AND is_tracked_by_cdc = 1)
BEGIN
    EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'Orders',
        @role_name = N'cdc_reader', @supports_net_changes = 0;
    PRINT N'enabled CDC on dbo.Orders';
END
ELSE
    PRINT N'CDC already enabled on dbo.Orders';
GO
-- The source signalling channel reads signals from the signal table's change table.
IF NOT EXISTS (SELECT 1 FROM sys.tables WHERE object_id = OBJECT_ID(N'dbo.debezium_signal') AND is_tracked_by_cdc = 1)
BEGIN
    EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'debezium_signal',
        @role_name = N'cdc_reader', @supports_net_changes = 0;
    PRINT N'enabled CDC on dbo.debezium_signal';
END
ELSE
    PRINT N'CDC already enabled on dbo.debezium_signal';
GO

-------------------------------------------------------------------------------------------------------------
-- 6. Retention: 5 days = 7200 minutes (default 4320 = 3 days). Restarting the cleanup job makes it pick the
--    new value up now; stopping a job that is not running raises an error, hence TRY/CATCH.
-------------------------------------------------------------------------------------------------------------
EXEC sys.sp_cdc_change_job @job_type = N'cleanup', @retention = 7200;
GO
BEGIN TRY
    EXEC sys.sp_cdc_stop_job @job_type = N'cleanup';
END TRY
BEGIN CATCH
    PRINT N'cleanup job was not running';
END CATCH;
BEGIN TRY
    EXEC sys.sp_cdc_start_job @job_type = N'cleanup';
END TRY
BEGIN CATCH
    PRINT N'cleanup job already running';
END CATCH;
GO

-------------------------------------------------------------------------------------------------------------
-- 7. The connector's database user: reads, never writes (except the signal table's watermark rows).
-------------------------------------------------------------------------------------------------------------
IF DATABASE_PRINCIPAL_ID(N'debezium_user') IS NULL
BEGIN
    CREATE USER debezium_user FOR LOGIN debezium_user;
    PRINT N'created user debezium_user in TrackingDb';
END
GO
IF IS_ROLEMEMBER(N'db_datareader', N'debezium_user') = 0
    ALTER ROLE db_datareader ADD MEMBER debezium_user;  -- initial and incremental snapshots read the tables
IF IS_ROLEMEMBER(N'cdc_reader', N'debezium_user') = 0
    ALTER ROLE cdc_reader ADD MEMBER debezium_user;     -- the gating role of every capture instance
GO
GRANT SELECT ON SCHEMA::cdc TO debezium_user;                 -- change tables and cdc.lsn_time_mapping
GRANT VIEW DATABASE STATE TO debezium_user;                   -- connector metrics queries
GRANT INSERT, DELETE ON dbo.debezium_signal TO debezium_user;  -- incremental snapshot watermarks
GO

-------------------------------------------------------------------------------------------------------------
-- 8. Verification: fails loudly if anything above did not take.
-------------------------------------------------------------------------------------------------------------
IF EXISTS (SELECT 1 FROM (VALUES (N'dbo.Customers'), (N'dbo.Accounts'), (N'dbo.Products'), (N'dbo.Orders'),
                                 (N'dbo.debezium_signal')) AS captured(name)
           LEFT JOIN sys.tables AS t ON t.object_id = OBJECT_ID(captured.name)
           WHERE t.is_tracked_by_cdc IS NULL OR t.is_tracked_by_cdc = 0)
BEGIN
    RAISERROR(N'verification: a table is not tracked by CDC (see sys.tables.is_tracked_by_cdc).', 16, 1);
    SET NOEXEC ON;
END
GO
IF NOT EXISTS (SELECT 1 FROM msdb.dbo.cdc_jobs
               WHERE database_id = DB_ID(N'TrackingDb') AND job_type = N'cleanup' AND retention = 7200)
BEGIN
    RAISERROR(N'verification: the CDC cleanup job of TrackingDb does not have a retention of 7200 minutes.', 16, 1);
    SET NOEXEC ON;
END
GO
EXECUTE AS LOGIN = N'debezium_user';
DECLARE @visible int = (SELECT COUNT(*) FROM cdc.change_tables
                        WHERE HAS_PERMS_BY_NAME(N'cdc.' + QUOTENAME(capture_instance + N'_CT'), N'OBJECT', N'SELECT') = 1
                          AND source_object_id IN (OBJECT_ID(N'dbo.Customers'), OBJECT_ID(N'dbo.Accounts'),
                                                   OBJECT_ID(N'dbo.Products'), OBJECT_ID(N'dbo.Orders'),
                                                   OBJECT_ID(N'dbo.debezium_signal')));
DECLARE @gated int = ISNULL(IS_ROLEMEMBER(N'cdc_reader'), 0);
DECLARE @reads int = HAS_PERMS_BY_NAME(N'dbo.Customers', N'OBJECT', N'SELECT');
DECLARE @canSignal int = HAS_PERMS_BY_NAME(N'dbo.debezium_signal', N'OBJECT', N'INSERT');
DECLARE @canWrite int = HAS_PERMS_BY_NAME(N'dbo.Customers', N'OBJECT', N'UPDATE');
REVERT;
IF @visible < 5 OR @gated <> 1 OR @reads <> 1 OR @canSignal <> 1 OR @canWrite <> 0
BEGIN
    RAISERROR(N'verification: as debezium_user: change tables readable %d (want 5), in cdc_reader %d (want 1), SELECT on dbo.Customers %d (want 1), INSERT on the signal table %d (want 1), UPDATE on dbo.Customers %d (want 0).',
              16, 1, @visible, @gated, @reads, @canSignal, @canWrite);
    SET NOEXEC ON;
END
ELSE
    PRINT N'ok: debezium_user reads the tables and their 5 change tables, is in cdc_reader, may signal, cannot write';
GO
-- For the record: capture instances, CDC jobs, the database settings.
EXEC sys.sp_cdc_help_change_data_capture;
EXEC sys.sp_cdc_help_jobs;
SELECT name, is_cdc_enabled, snapshot_isolation_state_desc FROM sys.databases WHERE name = N'TrackingDb';
GO
PRINT N'enable-cdc.sql: done';
GO
