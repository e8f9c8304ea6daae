-- CreateIndex
CREATE INDEX "AuditEvent_service_type_seq_idx" ON "AuditEvent"("service", "type", "seq");

-- CreateIndex
CREATE INDEX "AuditEvent_service_severity_seq_idx" ON "AuditEvent"("service", "severity", "seq");
