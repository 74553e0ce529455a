// Package deploy holds the deployment examples (Docker image, Kubernetes manifests) and the tests
// that check them without a container engine.
package deploy
