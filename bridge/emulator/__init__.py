"""Local emulators of the MTurk Requester API and the Qualtrics v3 export API."""
