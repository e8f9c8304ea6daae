-- The audit tables are append-only. UPDATE is always rejected. DELETE on
-- AuditEvent is allowed only for the retention code's rows: a seq above 1
-- (the genesis record is never pruned) and at or below the throughSeq of a
-- prune grant whose checkpoint exists, so the oldest kept record stays
-- anchored by a signed checkpoint of the last pruned one. Retention inserts
-- the checkpoint, the grant and the DELETE in one transaction.

-- CreateTable
CREATE TABLE "AuditPruneGrant" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "throughSeq" INTEGER NOT NULL,
    "time" TEXT NOT NULL,
    "reason" TEXT NOT NULL
);

-- CreateIndex
CREATE INDEX "AuditEvent_time_idx" ON "AuditEvent"("time");

-- CreateIndex
CREATE INDEX "AuditEvent_severity_seq_idx" ON "AuditEvent"("severity", "seq");

CREATE TRIGGER "AuditEvent_no_update" BEFORE UPDATE ON "AuditEvent"
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER "AuditEvent_no_delete" BEFORE DELETE ON "AuditEvent"
WHEN OLD."seq" <= 1 OR NOT EXISTS (
    SELECT 1 FROM "AuditPruneGrant" AS g
    JOIN "AuditCheckpoint" AS c ON c."seq" = g."throughSeq"
    WHERE OLD."seq" <= g."throughSeq"
)
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER "AuditCheckpoint_no_update" BEFORE UPDATE ON "AuditCheckpoint"
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER "AuditCheckpoint_no_delete" BEFORE DELETE ON "AuditCheckpoint"
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER "AuditPruneGrant_no_update" BEFORE UPDATE ON "AuditPruneGrant"
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER "AuditPruneGrant_no_delete" BEFORE DELETE ON "AuditPruneGrant"
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;
