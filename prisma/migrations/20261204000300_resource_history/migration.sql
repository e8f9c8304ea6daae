-- CreateTable
CREATE TABLE "ResourceMinute" (
    "service" TEXT NOT NULL,
    "minute" INTEGER NOT NULL,
    "samples" INTEGER NOT NULL,
    "cpuPercentAvg" REAL NOT NULL,
    "cpuPercentMax" REAL NOT NULL,
    "memoryBytesAvg" REAL NOT NULL,
    "memoryBytesMax" REAL NOT NULL,
    "memoryLimitBytes" REAL,
    "pidsAvg" REAL NOT NULL,
    "pidsMax" INTEGER NOT NULL,
    "pidsLimit" INTEGER,
    "fdsAvg" REAL,
    "fdsMax" INTEGER,
    "oomKills" INTEGER NOT NULL,

    PRIMARY KEY ("service", "minute")
);

-- CreateIndex
CREATE INDEX "ResourceMinute_minute_idx" ON "ResourceMinute"("minute");
