// Package s3fs is the S3 FileSystem of flink-go: it serves s3:// and s3a://
// URIs (the bucket is the authority: s3://bucket/path) through fs.Get once
// the package is imported, on github.com/aws/aws-sdk-go-v2. docs/s3.md has
// the full description.
//
//	import _ "github.com/flink-go/flink-go/s3fs"
//	s3fs.Configure(jobConf) // its s3.* keys; optional on EMR
//	fsys, p, err := fs.Get(ctx, "s3://bucket/flink/checkpoints/chk-7/_metadata")
//
// # Configuration
//
// FileSystems that fs.Get creates use the process-wide configuration set with
// Configure (Flink's s3.* keys, see the Key* constants) plus the AWS
// environment: AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3,
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE
// and the shared config files. Without s3.access-key the SDK's default
// credential chain applies, which on EMR ends at the instance profile. New
// creates a FileSystem from explicit Options.
//
// # How S3 is made to look like a file system
//
//   - Writes are invisible until Close. Files up to one part (s3.upload.part-size,
//     8 MiB) are one PutObject; larger files are multipart uploads whose parts
//     upload in the background as they fill and which Close completes and
//     Abort (or a failure) aborts. An object appears whole or not at all.
//   - Directories are key prefixes. MkdirAll writes a marker object "dir/"
//     that carries the permission bits and keeps the directory alive when it
//     has no files; Create needs no parent directories. A directory without
//     a marker disappears with its last file.
//   - Rename is a server-side copy (CopyObject; UploadPartCopy above 5 GiB)
//     followed by a delete, object by object for directories. It is not
//     atomic, but every object copy is published whole, so
//     fs.WriteFileAtomic never exposes a partial file: its temporary file is
//     complete before the copy starts, and the copy replaces the destination
//     in one step. A crash between copy and delete leaves the hidden
//     "._tmp." file behind.
//   - Delete of a directory lists it and deletes its objects in batches of
//     1000 (DeleteObjects).
//   - Permission bits are stored as user metadata (x-amz-meta-flink-go-mode)
//     and reported by Stat; S3 enforces none of them, IAM policies decide.
//   - Create without Overwrite checks that the file is absent and publishes
//     with If-None-Match: *, so two writers of one new file cannot both win.
//
// # Failures
//
// Every request is retried with exponential backoff and full jitter on
// throttling (503 SlowDown), 500/502/504, RequestTimeout, dropped
// connections and connections stalled for s3.socket.timeout, up to
// s3.retry.max-attempts (10); each retry is logged at Info. Reads resume a
// response cut off mid-way from where it stopped. A response lost after the
// server applied a PUT or CompleteMultipartUpload is recognised by the
// object's ETag, so the retry does not fail. Errors name the bucket and key and
// satisfy errors.Is against fs.ErrNotExist (NoSuchKey, NoSuchBucket),
// fs.ErrPermission (AccessDenied and other 403s) and fs.ErrExist, with a
// hint at the likely cause (endpoint, credentials, region).
//
// # Entropy injection
//
// With s3.entropy.key set, InjectEntropy(uri, true) replaces the marker in a
// checkpoint data file's path by s3.entropy.length random characters and
// InjectEntropy(uri, false) removes it from metadata paths, as Flink does.
package s3fs
