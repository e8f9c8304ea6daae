-- CreateTable
CREATE TABLE "Incident" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "rule" TEXT NOT NULL,
    "service" TEXT,
    "severity" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'open',
    "response" TEXT NOT NULL,
    "responseResult" TEXT,
    "summary" TEXT NOT NULL,
    "eventSeqs" TEXT NOT NULL DEFAULT '[]',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "acknowledgedBy" TEXT,
    "acknowledgedAt" DATETIME,
    "resolvedBy" TEXT,
    "resolvedAt" DATETIME
);

-- CreateIndex
CREATE INDEX "Incident_status_id_idx" ON "Incident"("status", "id");

-- CreateIndex
CREATE INDEX "Incident_service_id_idx" ON "Incident"("service", "id");

-- CreateIndex
CREATE INDEX "Incident_rule_id_idx" ON "Incident"("rule", "id");
