// Package kafkatest hands tests a Kafka cluster and a unique topic name.
//
// Which cluster, in order:
//
//  1. KAFKA_BROKERS is set (comma-separated host:port): that cluster. CI sets it to the real
//     Apache Kafka broker started by deploy/local-kafka/kafka.sh.
//  2. A Docker engine answers: a container of the official apache/kafka image, started once per
//     test binary with testcontainers-go and removed when the process ends.
//  3. Otherwise an in-process kfake cluster, and a log line says so.
//
// KAFKA_REQUIRE_REAL=1 makes step 3 a test failure: a run that asked for a real broker can never
// pass on the fake.
package kafkatest
