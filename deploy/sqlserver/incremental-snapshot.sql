/*
 * Distribution Tracker: asks the Debezium connector for an incremental snapshot of one or more captured tables,
 * through the signal table dbo.debezium_signal (source signalling channel, signal.data.collection =
 * TrackingDb.dbo.debezium_signal).
 *
 *   sqlcmd -S <server> -d TrackingDb -U <login> -b -v TABLES="Customers,Orders" -i incremental-snapshot.sql
 *
 * TABLES: a comma-separated list of captured table names without schema (Customers, Accounts, Products,
 * Orders), or one name. The login needs INSERT on dbo.debezium_signal (a DBA, or debezium_user).
 *
 * When to use: after the connector was down for longer than is safe for the CDC retention (5 days, see
 * enable-cdc.sql: Debezium 2.5 does not detect the changes it lost), after restoring a table, or to re-seed
 * the tracking service's read model. The rows arrive on cdc.<Table> as op "r" with snapshot "incremental",
 * in chunks of incremental.snapshot.chunk.size rows in primary-key order, interleaved with live changes; the
 * connector keeps streaming meanwhile. Rows deleted upstream are not replayed as deletes.
 *
 * Progress: the connector log ("Incremental snapshot ..."), the open/close watermark rows it writes to
 * dbo.debezium_signal, and the topic mssql.TrackingDb.dbo.debezium_signal. Old signal rows can be deleted
 * once the snapshot has finished.
 *
 * To stop a running incremental snapshot (same table names; "type" is required):
 *   INSERT INTO dbo.debezium_signal (id, type, data) VALUES (CONVERT(varchar(42), NEWID()), 'stop-snapshot',
 *     '{"data-collections": ["TrackingDb.dbo.Orders"], "type": "incremental"}');
 * 'pause-snapshot' and 'resume-snapshot' (data '{"type": "incremental"}') pause and resume it.
 * To snapshot only some rows, add "additional-conditions" to the execute-snapshot data, e.g.
 *   "additional-conditions": [{"data-collection": "TrackingDb.dbo.Orders", "filter": "OrderedAt >= '2024-03-01'"}]
 */
:on error exit
SET NOCOUNT ON;
GO
USE TrackingDb;
GO
DECLARE @tables nvarchar(400) = REPLACE(N'$(TABLES)', N' ', N'');
DECLARE @collections nvarchar(1000) = N'';
DECLARE @rest nvarchar(400) = @tables + N',';
DECLARE @table sysname;
DECLARE @comma int;

IF @tables = N'' OR @tables LIKE N'%[^A-Za-z0-9_,]%'
BEGIN
    RAISERROR(N'TABLES must be a comma-separated list of table names such as Customers,Orders (got "%s").',
              16, 1, @tables);
    RETURN;  -- ends the batch: nothing is inserted
END

WHILE LEN(@rest) > 0
BEGIN
    SET @comma = CHARINDEX(N',', @rest);
    SET @table = LEFT(@rest, @comma - 1);
    SET @rest = SUBSTRING(@rest, @comma + 1, 400);
    IF @table = N'' CONTINUE;
    -- Only the tables the connector captures (and never the signal table itself).
    IF @table NOT IN (N'Customers', N'Accounts', N'Products', N'Orders')
       OR NOT EXISTS (SELECT 1 FROM sys.tables WHERE object_id = OBJECT_ID(N'dbo.' + QUOTENAME(@table))
                      AND is_tracked_by_cdc = 1)
    BEGIN
        RAISERROR(N'%s is not one of the captured tables Customers, Accounts, Products, Orders with CDC enabled.',
                  16, 1, @table);
        RETURN;  -- ends the batch: nothing is inserted
    END
    SET @table = OBJECT_NAME(OBJECT_ID(N'dbo.' + QUOTENAME(@table)));  -- the table's own spelling (case)
    IF @collections LIKE N'%"TrackingDb.dbo.' + @table + N'"%' CONTINUE;  -- named twice
    SET @collections = @collections + CASE WHEN @collections = N'' THEN N'' ELSE N', ' END
                       + N'"TrackingDb.dbo.' + @table + N'"';
END

IF @collections <> N''
BEGIN
    DECLARE @id varchar(42) = CONVERT(varchar(42), NEWID());
    DECLARE @data varchar(2048) = '{"data-collections": [' + CONVERT(varchar(1000), @collections)
                                  + '], "type": "incremental"}';
    INSERT INTO dbo.debezium_signal (id, type, data) VALUES (@id, 'execute-snapshot', @data);
    PRINT N'execute-snapshot signal ' + @id + N' sent: ' + @data;
    SELECT id, type, data FROM dbo.debezium_signal WHERE id = @id;
END
GO
